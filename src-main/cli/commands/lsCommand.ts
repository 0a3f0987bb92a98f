import { formatBytes, formatLocalTime } from '../../../src-shared/units.js';
import { selectSnapshot } from '../../engine/snapshot/snapshotSelection.js';
import { displayName, type TreeNode } from '../../engine/snapshot/tree.js';
import { TreeLoader } from '../../engine/snapshot/treeLoader.js';
import { findPath, splitReference } from '../../engine/snapshot/treePath.js';
import { walkTree } from '../../engine/snapshot/walkTree.js';
import { stopIfAborted } from '../../engine/interruption.js';
import { UsageError } from '../cliError.js';
import { REPOSITORY_HELP, REPOSITORY_OPTIONS, SNAPSHOT_FILTER_HELP, SNAPSHOT_FILTER_OPTIONS, snapshotFilter, type Command } from '../command.js';
import { withReadLock } from '../openRepository.js';

export const lsCommand: Command = {
  name: 'ls',
  summary: 'list the files in a snapshot',
  help: `Usage: hindsight ls --repo LOCATION SNAPSHOT[:PATH] [--json]

Lists everything in a snapshot (or below PATH in it), recursively. SNAPSHOT is
an id, the first characters of one, or "latest": the newest snapshot that
holds PATH (and matches --host, --path and --tag).

Options:
${REPOSITORY_HELP}
${SNAPSHOT_FILTER_HELP}
      --json                one JSON object per entry`,
  options: { ...REPOSITORY_OPTIONS, ...SNAPSHOT_FILTER_OPTIONS, json: { type: 'boolean' } },
  takesArguments: true,
  interruptible: true,
  async run(values, positionals, { signal }) {
    if (positionals.length !== 1) throw new UsageError('Say which snapshot: hindsight ls SNAPSHOT[:PATH].');
    const { snapshot: reference, path } = splitReference(positionals[0] as string);
    await withReadLock(values, async (repository) => {
      const snapshot = await selectSnapshot(repository, reference, { path, filter: snapshotFilter(values) });
      const target = await findPath(repository, snapshot, path);
      const base = Buffer.from(path === '/' ? '' : path.replace(/\/+$/, ''));
      const print = (entryPath: Buffer, node: TreeNode) => {
        stopIfAborted(signal, 'Listing interrupted.');
        if (values.json) {
          console.log(JSON.stringify({ path: displayName(entryPath), type: node.type, mode: node.mode, size: node.size, mtime: new Date(Number(node.mtimeNs / 1_000_000n)).toISOString(), uid: node.uid, gid: node.gid, ...(node.linkTarget ? { linkTarget: displayName(node.linkTarget) } : {}) }));
        } else {
          const link = node.linkTarget ? ` -> ${displayName(node.linkTarget)}` : '';
          const mtime = formatLocalTime(new Date(Number(node.mtimeNs / 1_000_000n)));
          console.log(`${modeString(node)} ${String(node.uid).padStart(5)} ${String(node.gid).padStart(5)} ${formatBytes(node.size).padStart(10)}  ${mtime}  ${displayName(entryPath)}${link}`);
        }
      };
      if (target.kind === 'entry') print(base, target.node);
      else for await (const { path: entryPath, node } of walkTree(new TreeLoader(repository), target.tree, base)) print(entryPath, node);
    });
  },
};

const TYPE_LETTER: Record<TreeNode['type'], string> = { file: '-', dir: 'd', symlink: 'l', fifo: 'p', socket: 's', chardev: 'c', blockdev: 'b' };

function modeString(node: TreeNode): string {
  const bits = 'rwxrwxrwx';
  let out = TYPE_LETTER[node.type];
  for (let i = 0; i < 9; i++) out += node.mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}
