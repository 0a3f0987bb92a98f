import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../../src-main/engine/backend/localBackend.js';
import { Catalogue } from '../../src-main/engine/catalogue/catalogue.js';
import { Repository } from '../../src-main/engine/repository/repository.js';
import { saveSnapshot } from '../../src-main/engine/snapshot/snapshot.js';
import { encodeTree, type TreeNode } from '../../src-main/engine/snapshot/tree.js';

/**
 * Catalogue query speed: SNAPSHOTS snapshots of FILES files (in folders of
 * 100), each snapshot changing 100 files, built as trees directly in a
 * repository; then the time to sync the catalogue and to answer versions,
 * find and diff. `npm run bench:catalogue -- 100 100000`.
 */
const snapshots = Number(process.argv[2] ?? 100);
const files = Number(process.argv[3] ?? 100_000);
const dir = await mkdtemp(join(tmpdir(), 'hindsight-bench-'));
const repository = await Repository.init(new LocalBackend(join(dir, 'repo')), { password: 'bench', kdf: { memoryKiB: 1024, iterations: 1, parallelism: 1 } });
const base = { mode: 0o644, uid: 1000, gid: 1000, ctimeNs: 0n };
const content = (await repository.saveBlob('data', Buffer.from('x'))).id;
const folders = Math.ceil(files / 100);

const started = Date.now();
for (let s = 0; s < snapshots; s++) {
  const dirs: TreeNode[] = [];
  for (let d = 0; d < folders; d++) {
    const nodes: TreeNode[] = [];
    for (let f = 0; f < 100 && d * 100 + f < files; f++) {
      const n = d * 100 + f;
      // 100 files change in every snapshot; the rest keep their first version.
      const version = n % folders === s % folders ? s : 0;
      nodes.push({ ...base, name: Buffer.from(`file-${n}.txt`), type: 'file', size: 1000 + version, mtimeNs: BigInt(1_700_000_000 + version) * 1_000_000_000n, content: [content] });
    }
    const { id } = await repository.saveBlob('tree', encodeTree(nodes));
    dirs.push({ ...base, mode: 0o755, name: Buffer.from(`dir-${d}`), type: 'dir', size: 0, mtimeNs: 1_700_000_000_000_000_000n, subtree: id });
  }
  const { id: root } = await repository.saveBlob('tree', encodeTree(dirs));
  await repository.flush();
  await saveSnapshot(repository, {
    hindsight: 'snapshot', version: 1, time: new Date(Date.UTC(2026, 0, 1) + s * 3_600_000).toISOString(), host: 'bench', username: 'bench', paths: ['/'], tags: [], type: 'incremental', tree: root.toString('hex'),
    summary: { filesNew: 0, filesChanged: 0, filesUnchanged: 0, filesRead: 0, dirs: 0, otherEntries: 0, bytesRead: 0, totalFiles: files, totalBytes: 0, bytesAdded: 0, dataBlobsAdded: 0, treeBlobsAdded: 0, warnings: 0, durationMs: 0 },
  });
}
console.log(`built ${snapshots} snapshots × ${files} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const catalogue = new Catalogue(join(dir, 'cache'));
let t = Date.now();
await catalogue.sync(repository);
console.log(`catalogue sync from scratch: ${((Date.now() - t) / 1000).toFixed(1)} s`);
const time = (label: string, run: () => unknown) => {
  run();
  const start = process.hrtime.bigint();
  const result = run();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`${label.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms  (${Array.isArray(result) ? result.length : '?'} results)`);
};
const ids = (catalogue as unknown as { db: { prepare(q: string): { all(): { id: string }[] } } }).db.prepare('SELECT id FROM snapshots ORDER BY time').all().map((r) => r.id);
time('versions of a file changed every snapshot', () => catalogue.versions('/dir-0/file-0.txt'));
time('versions of an unchanged file', () => catalogue.versions(`/dir-${folders - 1}/file-${files - 1}.txt`));
time('find "file-4242*"', () => catalogue.find('file-4242*'));
time('diff first → last', () => catalogue.diff(ids[0] as string, ids[ids.length - 1] as string));
time('diff of neighbours', () => catalogue.diff(ids[1] as string, ids[2] as string));
t = Date.now();
catalogue.close();
await rm(dir, { recursive: true, force: true });
