import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { Chunker } from '../../src-main/engine/chunker/fastCdc.js';
import { gearTable } from '../../src-main/engine/chunker/gearTable.js';
import { computeBlobId } from '../../src-main/engine/crypto/blobId.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { waitForPort } from '../helpers/serverProcess.js';
import { freePort } from '../helpers/sshServer.js';
import { tempDir } from '../helpers/tempDir.js';

const bin = fileURLToPath(new URL('../../../bin/hindsight.js', import.meta.url));

function hindsight(args: string[], env: Record<string, string>, input?: Buffer) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('HINDSIGHT_')));
  return spawnSync(process.execPath, [bin, ...args], {
    env: { ...clean, ...env },
    encoding: 'buffer',
    ...(input ? { input } : { stdio: ['ignore', 'pipe', 'pipe'] }),
    maxBuffer: 512 * 1024 * 1024,
  });
}

function summaryOf(output: Buffer): { snapshot: string; bytesAdded: number; bytesRead: number; parent: string | null } {
  return JSON.parse(output.toString().trim().split('\n').at(-1) as string) as { snapshot: string; bytesAdded: number; bytesRead: number; parent: string | null };
}

const DUMP_BYTES = 200 * 1024 * 1024;
/** Four edits of 512 KiB: 1% of the dump, spread over it. */
const EDITS = [0.13, 0.38, 0.61, 0.87].map((at) => ({ at: Math.floor(at * DUMP_BYTES), length: 512 * 1024 }));

/**
 * A generator of a 200 MiB "dump" (an AES-CTR keystream: incompressible, so every changed byte costs
 * its size) written to standard output in 1 MiB blocks, as a dump program writes; with the argument
 * "edited", the EDITS ranges differ. The same program computes the dump's SHA-256 in the test.
 */
const GENERATOR = `
const { createCipheriv } = require('node:crypto');
const edited = process.argv[2] === 'edited';
const edits = ${JSON.stringify(EDITS)};
const stream = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
const zeros = Buffer.alloc(1024 * 1024);
let offset = 0;
function next() {
  while (offset < ${DUMP_BYTES}) {
    const block = stream.update(zeros);
    if (edited) for (const e of edits) for (let i = Math.max(e.at, offset); i < Math.min(e.at + e.length, offset + block.length); i++) block[i - offset] ^= 0x5a;
    offset += block.length;
    if (!process.stdout.write(block)) return process.stdout.once('drain', next);
  }
}
next();
`;

/** The dump's 1 MiB blocks as the generator writes them (see GENERATOR). */
function* dumpBlocks(edited: boolean): Generator<Buffer> {
  const stream = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let offset = 0; offset < DUMP_BYTES; offset += zeros.length) {
    const block = stream.update(zeros);
    if (edited) for (const e of EDITS) for (let i = Math.max(e.at, offset); i < Math.min(e.at + e.length, offset + block.length); i++) block[i - offset] = (block[i - offset] as number) ^ 0x5a;
    yield block;
  }
}

function dumpHash(edited: boolean): string {
  const hash = createHash('sha256');
  for (const block of dumpBlocks(edited)) hash.update(block);
  return hash.digest('hex');
}

/** The dump's chunks as `repository` cuts them (its chunker seed and sizes), with their ids in hex. */
function dumpChunks(repository: Repository, edited: boolean): { id: string; length: number }[] {
  const chunker = new Chunker(gearTable(repository.chunkerSeed), repository.config.chunker);
  const chunks: { id: string; length: number }[] = [];
  let pending: Buffer[] = [];
  const cut = (chunk: Buffer) => chunks.push({ id: computeBlobId(repository.blobIdKey, chunk).toString('hex'), length: chunk.byteLength });
  for (const block of dumpBlocks(edited)) {
    let at = 0;
    for (const length of chunker.push(block)) {
      const have = pending.reduce((sum, b) => sum + b.byteLength, 0);
      cut(Buffer.concat([...pending, block.subarray(at, at + length - have)]));
      at += length - have;
      pending = [];
    }
    if (at < block.byteLength) pending.push(block.subarray(at));
  }
  if (chunker.finish() > 0) cut(Buffer.concat(pending));
  return chunks;
}

async function repositoryIn(dir: string): Promise<Record<string, string>> {
  const env = { HINDSIGHT_REPO: join(dir, 'repo'), HINDSIGHT_PASSWORD: 'pw', HINDSIGHT_CACHE_DIR: join(dir, 'cache') };
  const init = hindsight(['init'], env);
  assert.equal(init.status, 0, init.stderr.toString());
  return env;
}

test('a 200 MiB dump from a command, backed up twice with 1% changed between: the second adds a small fraction, and both restore exactly', async (t) => {
  const dir = await tempDir(t);
  const env = await repositoryIn(dir);
  const generator = join(dir, 'dump.cjs');
  await writeFile(generator, GENERATOR);

  const first = hindsight(['backup', '--json', '--stdin-from-command', '--stdin-filename', 'app.dump', '--', process.execPath, generator], env);
  assert.equal(first.status, 0, first.stderr.toString());
  const one = summaryOf(first.stdout);
  assert.equal(one.bytesRead, DUMP_BYTES);
  assert.ok(one.bytesAdded > DUMP_BYTES, `an incompressible dump is stored whole the first time (${one.bytesAdded})`);

  const second = hindsight(['backup', '--json', '--stdin-from-command', '--stdin-filename', 'app.dump', '--', process.execPath, generator, 'edited'], env);
  assert.equal(second.status, 0, second.stderr.toString());
  const two = summaryOf(second.stdout);
  assert.equal(two.parent, one.snapshot, 'the last dump of the same name is the parent');
  t.diagnostic(`first dump added ${one.bytesAdded} bytes, the second (1% changed) ${two.bytesAdded}`);
  // 1% of the bytes changed in 4 places: each costs only the chunks around it. Which chunks those are
  // depends on the repository's own chunker seed (random), so their size is worked out here, cutting
  // both dumps as the repository does: the second backup stores exactly the chunks the first lacks
  // (incompressible, so their bytes, plus a tag each and the snapshot's tree).
  const repository = await Repository.open(new LocalBackend(env.HINDSIGHT_REPO as string), 'pw');
  const firstChunks = new Set(dumpChunks(repository, false).map(({ id }) => id));
  const newChunks = new Map(dumpChunks(repository, true).filter(({ id }) => !firstChunks.has(id)).map(({ id, length }) => [id, length]));
  await repository.close();
  const newBytes = [...newChunks.values()].reduce((sum, length) => sum + length, 0);
  t.diagnostic(`the edited dump's ${newChunks.size} new chunks hold ${newBytes} bytes`);
  assert.ok(newChunks.size > 0 && newBytes < 0.5 * DUMP_BYTES, `${newChunks.size} chunks of the edited dump are new, ${newBytes} bytes`);
  assert.ok(two.bytesAdded >= newBytes && two.bytesAdded <= newBytes + 64 * 1024, `the second dump added ${two.bytesAdded} bytes, where its new chunks hold ${newBytes}`);

  for (const [snapshot, edited] of [[one.snapshot, false], [two.snapshot, true]] as const) {
    const cat = hindsight(['cat', `${snapshot}:/app.dump`], env);
    assert.equal(cat.status, 0, cat.stderr.toString());
    assert.equal(createHash('sha256').update(cat.stdout).digest('hex'), dumpHash(edited));
  }
  const ls = hindsight(['ls', `${two.snapshot}`], env).stdout.toString();
  assert.match(ls, /^-rw------- .* \/app\.dump$/m, 'the dump is one file, readable by its owner only');
});

test('data piped in with --stdin is stored as the file named, and restores byte for byte', async (t) => {
  const dir = await tempDir(t);
  const env = await repositoryIn(dir);
  const data = createCipheriv('aes-128-ctr', Buffer.alloc(16, 3), Buffer.alloc(16, 0)).update(Buffer.alloc(5 * 1024 * 1024 + 321));
  const piped = hindsight(['backup', '--stdin', '--stdin-filename', 'piped.bin', '--tag', 'pipe'], env, data);
  assert.equal(piped.status, 0, piped.stderr.toString());
  const target = join(dir, 'restored');
  const restored = hindsight(['restore', 'latest', '--target', target], env);
  assert.equal(restored.status, 0, restored.stderr.toString());
  const { readFile } = await import('node:fs/promises');
  assert.ok((await readFile(join(target, 'piped.bin'))).equals(data));
  const snapshots = JSON.parse(hindsight(['snapshots', '--json'], env).stdout.toString()) as { paths: string[]; tags: string[] }[];
  assert.deepEqual(snapshots.map((s) => [s.paths, s.tags]), [[['/piped.bin'], ['pipe']]]);
});

test('a command that fails, or that does not exist, saves no snapshot and says why in one line', async (t) => {
  const dir = await tempDir(t);
  const env = await repositoryIn(dir);
  const failing = hindsight(['backup', '--stdin-from-command', '--stdin-filename', 'db.sql', '--', 'sh', '-c', 'echo partial output; echo "pg_dump: error: connection refused" >&2; exit 1'], env);
  assert.equal(failing.status, 1);
  assert.match(failing.stderr.toString(), /^hindsight: sh exited with status 1, so no snapshot was saved: pg_dump: error: connection refused$/m);

  const missing = hindsight(['backup', '--stdin-from-command', '--', 'no-such-dump-program', '--all'], env);
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr.toString().trim(), 'hindsight: Cannot run no-such-dump-program: no such program (is it installed, and on the PATH?).');

  const snapshots = JSON.parse(hindsight(['snapshots', '--json'], env).stdout.toString()) as unknown[];
  assert.equal(snapshots.length, 0, 'no snapshot of a failed dump');

  // Wrong usage is refused before anything runs.
  assert.equal(hindsight(['backup', '--stdin-from-command'], env).status, 2);
  assert.equal(hindsight(['backup', '--stdin-from-command', '--stdin-filename', '../x', '--', 'true'], env).status, 2);
  assert.equal(hindsight(['backup', '--stdin', '--stdin-from-command', '--', 'true'], env).status, 2);
  assert.equal(hindsight(['backup', '--stdin', 'somepath'], env, Buffer.from('x')).status, 2);
});

test('a real SQLite database backed up with sqlite3 .dump restores to the same content (Debian package sqlite3)', async (t) => {
  if (spawnSync('sqlite3', ['-version']).status !== 0) {
    t.skip('sqlite3 is not installed (apt-get install sqlite3)');
    return;
  }
  const dir = await tempDir(t);
  const env = await repositoryIn(dir);
  const database = join(dir, 'shop.db');
  const rows = Array.from({ length: 2000 }, (_, i) => `INSERT INTO orders VALUES (${i}, 'customer ${i % 97}', ${(i * 7919) % 100000}, x'${createHash('sha256').update(String(i)).digest('hex')}');`);
  const made = spawnSync('sqlite3', [database], { input: `CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, cents INTEGER, token BLOB);\nBEGIN;\n${rows.join('\n')}\nCOMMIT;\nCREATE INDEX by_customer ON orders(customer);\n` });
  assert.equal(made.status, 0, made.stderr.toString());

  const backedUp = hindsight(['backup', '--stdin-from-command', '--stdin-filename', 'shop.sql', '--', 'sqlite3', database, '.dump'], env);
  assert.equal(backedUp.status, 0, backedUp.stderr.toString());

  const target = join(dir, 'restored');
  const restored = hindsight(['restore', 'latest', '--target', target], env);
  assert.equal(restored.status, 0, restored.stderr.toString());
  const copy = join(dir, 'copy.db');
  const loaded = spawnSync('sqlite3', [copy, `.read ${join(target, 'shop.sql')}`]);
  assert.equal(loaded.status, 0, loaded.stderr.toString());
  // The same content, compared as sqlite3 prints it: every table's rows and the schema.
  const contentOf = (db: string) => spawnSync('sqlite3', [db, 'SELECT * FROM orders ORDER BY id; SELECT sql FROM sqlite_master ORDER BY name;'], { encoding: 'utf8' }).stdout;
  assert.equal(contentOf(copy), contentOf(database));
  assert.equal(spawnSync('sqlite3', [copy, 'SELECT count(*) FROM orders;'], { encoding: 'utf8' }).stdout.trim(), '2000');
});

/** Debian's PostgreSQL server programs (package postgresql), or why they cannot run here. */
function postgresPrograms(): { bin: string } | { missing: string } {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort().reverse() : [];
  const bin = versions.map((v) => `/usr/lib/postgresql/${v}/bin`).find((dir) => existsSync(`${dir}/initdb`) && existsSync(`${dir}/postgres`));
  if (!bin) return { missing: 'the PostgreSQL server is not installed (apt-get install postgresql)' };
  if (process.getuid?.() !== 0) return { missing: 'the PostgreSQL test runs as root (it starts the server as the postgres user)' };
  if (spawnSync('id', ['postgres']).status !== 0) return { missing: 'there is no postgres user (the Debian package makes it)' };
  return { bin };
}

test('a real PostgreSQL database backed up with pg_dump restores with psql to the same content (Debian package postgresql)', async (t) => {
  const programs = postgresPrograms();
  if ('missing' in programs) {
    t.skip(programs.missing);
    return;
  }
  const dir = await tempDir(t);
  const env = await repositoryIn(dir);
  // The server runs as the postgres user, in a folder of its own, on a free port of 127.0.0.1 only.
  const data = join(dir, 'pgdata');
  await mkdir(data);
  await chmod(dir, 0o755);
  spawnSync('chown', ['postgres:postgres', data]);
  const asPostgres = (program: string, args: string[]) => spawnSync('runuser', ['-u', 'postgres', '--', program, ...args], { encoding: 'utf8' });
  const init = asPostgres(`${programs.bin}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  assert.equal(init.status, 0, init.stderr);
  const port = await freePort();
  const server = spawn('runuser', ['-u', 'postgres', '--', `${programs.bin}/postgres`, '-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${data}`, '-c', 'fsync=off'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  t.after(async () => {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    // runuser passes the signal on; SIGINT is PostgreSQL's fast shutdown.
    server.kill('SIGINT');
    await exited;
  });
  await waitForPort(port, server, () => log, 'postgres');
  const sql = (database: string, command: string) => spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-At', '-d', database, '-c', command], { encoding: 'utf8' });
  for (let i = 0; i < 50 && sql('postgres', 'SELECT 1').status !== 0; i++) await new Promise((r) => setTimeout(r, 200));
  assert.equal(sql('postgres', 'CREATE DATABASE shop').status, 0);
  const made = sql(
    'shop',
    `CREATE TABLE orders (id integer PRIMARY KEY, customer text NOT NULL, cents bigint, placed timestamptz, token bytea);
     INSERT INTO orders SELECT i, 'customer ' || (i % 97), (i * 7919) % 100000, timestamptz '2026-01-01' + i * interval '1 minute', sha256(i::text::bytea) FROM generate_series(1, 5000) AS i;
     CREATE INDEX by_customer ON orders (customer);
     CREATE VIEW big_orders AS SELECT * FROM orders WHERE cents > 90000;`,
  );
  assert.equal(made.status, 0, made.stderr);

  const backedUp = hindsight(['backup', '--stdin-from-command', '--stdin-filename', 'shop.sql', '--', 'pg_dump', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '--no-owner', 'shop'], env);
  assert.equal(backedUp.status, 0, backedUp.stderr.toString());
  const target = join(dir, 'restored');
  const restored = hindsight(['restore', 'latest', '--target', target], env);
  assert.equal(restored.status, 0, restored.stderr.toString());

  assert.equal(sql('postgres', 'CREATE DATABASE shop_restored').status, 0);
  const loaded = spawnSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q', '-d', 'shop_restored', '-f', join(target, 'shop.sql')], { encoding: 'utf8' });
  assert.equal(loaded.status, 0, loaded.stderr);
  for (const query of ['SELECT * FROM orders ORDER BY id', 'SELECT count(*) FROM big_orders', "SELECT indexname FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1"]) {
    const original = sql('shop', query);
    assert.equal(original.status, 0, original.stderr);
    assert.equal(sql('shop_restored', query).stdout, original.stdout, query);
  }
  assert.equal(sql('shop_restored', 'SELECT count(*) FROM orders').stdout.trim(), '5000');

  // The server stopped: pg_dump fails, and no snapshot is added.
  const failed = hindsight(['backup', '--stdin-from-command', '--stdin-filename', 'shop.sql', '--', 'pg_dump', '-h', '127.0.0.1', '-p', String(await freePort()), '-U', 'postgres', 'shop'], env);
  assert.equal(failed.status, 1);
  assert.match(failed.stderr.toString(), /^hindsight: pg_dump exited with status 1, so no snapshot was saved: pg_dump: error: connection to server .* failed/m);
  assert.equal((JSON.parse(hindsight(['snapshots', '--json'], env).stdout.toString()) as unknown[]).length, 1);
});
