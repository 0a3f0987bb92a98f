import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { RestBackend } from '../../src-main/engine/backend/restBackend.js';
import { collect } from '../helpers/backendContract.js';
import { seededBytes } from '../helpers/data.js';
import { startHindsightServer } from '../helpers/hindsightServer.js';

const CLIENTS = 50;
/** Small objects each client writes, reads back and lists; `HINDSIGHT_SERVER_LOAD_OBJECTS` raises it for a stress run. */
const OBJECTS = Number(process.env.HINDSIGHT_SERVER_LOAD_OBJECTS ?? 8);
const OBJECT_BYTES = 128 * 1024;
/** Every fifth client also sends and fetches one pack this large: the uploads and downloads that must stream. */
const LARGE_BYTES = 16 * 1024 * 1024;
const PEAK_LIMIT = 256 * 1024 * 1024;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The process's resident size and high-water mark from /proc, in bytes. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

test(`hindsight server under load: ${CLIENTS} clients writing, reading, listing and deleting at once, every byte checked; the server's memory stays bounded`, async (t) => {
  const server = await startHindsightServer(t);
  const pid = server.process.pid as number;
  let sampled = 0;
  const sampler = setInterval(() => {
    memoryOf(pid).then(({ rss }) => (sampled = Math.max(sampled, rss)), () => undefined);
  }, 20);
  t.after(() => clearInterval(sampler));

  const started = Date.now();
  let requests = 0;
  const run = async (client: number) => {
    const backend = new RestBackend({ ...server.options(`alice/load-${client}`), connections: 2 });
    try {
      await backend.create();
      const written: string[] = [];
      for (let i = 0; i < OBJECTS; i++) {
        const bytes = seededBytes(`client ${client} object ${i}`, OBJECT_BYTES);
        const name = sha256(bytes);
        await backend.write({ type: 'index', name }, bytes);
        const back = await backend.read({ type: 'index', name }, { offset: 1000, length: 5000 });
        assert.ok(back.equals(bytes.subarray(1000, 6000)), `client ${client} object ${i}: range`);
        written.push(name);
        requests += 2;
      }
      if (client % 5 === 0) {
        const large = seededBytes(`client ${client} pack`, LARGE_BYTES);
        const name = sha256(large);
        await backend.write({ type: 'data', name }, large);
        assert.ok((await backend.read({ type: 'data', name })).equals(large), `client ${client}: the large object`);
        requests += 2;
      }
      const listed = (await collect(backend.list('index'))).map((entry) => entry.name).sort();
      assert.deepEqual(listed, [...written].sort());
      for (const name of written.slice(0, OBJECTS / 2)) await backend.delete({ type: 'index', name });
      assert.equal((await collect(backend.list('index'))).length, OBJECTS - OBJECTS / 2);
      for (const name of written.slice(OBJECTS / 2)) {
        const bytes = await backend.read({ type: 'index', name });
        assert.equal(sha256(bytes), name, `client ${client}: ${name} whole`);
      }
      requests += 2 + OBJECTS + 1;
    } finally {
      await backend.close();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, client) => run(client)));
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const { hwm } = await memoryOf(pid);
  const peak = Math.max(hwm, sampled);
  const moved = CLIENTS * OBJECTS * OBJECT_BYTES * 1.5 + (CLIENTS / 5) * LARGE_BYTES * 2;
  console.log(`server load: ${CLIENTS} clients, ${requests} requests, ${(moved / 1048576).toFixed(0)} MiB moved in ${seconds.toFixed(1)} s; server peak RSS ${(peak / 1048576).toFixed(0)} MiB (high-water ${(hwm / 1048576).toFixed(0)} MiB)`);
  assert.ok(peak < PEAK_LIMIT, `the server peaked at ${(peak / 1048576).toFixed(0)} MiB`);
  assert.equal(server.process.exitCode, null);
});
