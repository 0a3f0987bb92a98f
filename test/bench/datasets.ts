import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { formatBytes } from '../../src-shared/units.js';
import { applyTreeMutation, planTreeMutation } from './mutations.js';
import { UsageError } from './options.js';
import { generateSynthetic, mutateSynthetic } from './synthetic.js';
import { listTree } from './tree.js';

export interface Dataset {
  /** Short name for the report: synthetic, linux, gcc, or a folder's name. */
  name: string;
  /** One sentence for BENCHMARKS.md: what the data is and where it came from. */
  description: string;
  /** How "after mutation" changes it, for BENCHMARKS.md. */
  mutation: string;
  /** Puts a fresh copy of the data at `target` (which does not exist yet); the original is never written. */
  materialize(target: string): Promise<void>;
  /** The "after mutation" scenario, applied to the copy. */
  mutate(target: string): Promise<void>;
  /** About how much disk one copy takes, for the check of free space before a run. */
  diskBytes(): number;
}

/** A real tree from a Debian package: a tarball inside the .deb, unpacked once into the datasets folder. */
interface DebianTree {
  package: string;
  /** The tarball's path inside the package (matched, so a new package version still works). */
  tarball: RegExp;
  description: string;
}

export const debianTrees: Record<string, DebianTree> = {
  linux: {
    package: 'linux-source-6.1',
    tarball: /^\.?\/?usr\/src\/linux-source-[^/]+\.tar\.xz$/,
    description: "the Linux 6.1 kernel source tree, unpacked from Debian's linux-source-6.1 package",
  },
  gcc: {
    package: 'gcc-12-source',
    tarball: /^\.?\/?usr\/src\/gcc-12\/gcc-[^/]+\.tar\.xz$/,
    description: "the GCC 12.2 source tree, unpacked from Debian's gcc-12-source package",
  },
};

const treeMutation = '~2% of the bytes inserted into the largest files (slices of themselves, shifting what follows), 100 files added and 100 deleted';

/** Resolves the names and paths given with --dataset, fetching real trees that are not in the datasets folder yet. */
export function resolveDatasets(specs: string[], datasetsDir: string, size: number): Dataset[] {
  return specs.map((spec) => {
    if (spec === 'synthetic') return synthetic(size);
    const debian = debianTrees[spec];
    if (debian) return copiedTree(spec, `${debian.description} (\`apt-get download ${debian.package}\`)`, fetchDebianTree(spec, debian, datasetsDir));
    const path = resolve(spec);
    if (!existsSync(path) || !statSync(path).isDirectory()) {
      throw new UsageError(`--dataset ${spec}: not a folder, nor one of synthetic, ${Object.keys(debianTrees).join(', ')}`);
    }
    return copiedTree(basename(path), `the folder ${path}`, path);
  });
}

function synthetic(size: number): Dataset {
  return {
    name: 'synthetic',
    description: `seeded generated data of ${formatBytes(size)}: ~60% incompressible files of 4 KiB–64 MiB, ~30% log text, up to 10k small files`,
    mutation: '~2% of the bytes: appends to logs, insertions in the middle of large files, 200 small files added and 100 deleted',
    materialize: async (target) => {
      console.log(`Generating ${formatBytes(size)} of synthetic data in ${target}…`);
      await generateSynthetic(target, size);
    },
    mutate: (target) => mutateSynthetic(target, size),
    diskBytes: () => size,
  };
}

/**
 * A real tree, copied for every repetition: the mutation scenarios change the copy, and every tool backs
 * up that copy. `cp -a` writes new files (no hard links to the original), keeping modes and times.
 */
function copiedTree(name: string, description: string, source: string): Dataset {
  return {
    name,
    description,
    mutation: treeMutation,
    materialize: async (target) => {
      console.log(`Copying ${source} to ${target}…`);
      execFileSync('cp', ['-a', '--', source, target]);
    },
    mutate: async (target) => applyTreeMutation(target, planTreeMutation(await listTree(target))),
    diskBytes: () => Number(execFileSync('du', ['-s', '--block-size=1', '--', source], { encoding: 'utf8' }).split('\t')[0]),
  };
}

/**
 * `apt-get download` the package into DIR/debs (Debian's servers are the only network this needs), take
 * the source tarball out of it and unpack it into DIR/NAME; a marker file, written last, says it is whole,
 * so an interrupted unpack starts again instead of benchmarking half a tree.
 */
export function fetchDebianTree(name: string, tree: DebianTree, datasetsDir: string): string {
  const unpacked = join(datasetsDir, name);
  const marker = join(datasetsDir, `${name}.complete`);
  if (existsSync(marker)) {
    const top = join(unpacked, readFileSync(marker, 'utf8').trim());
    console.log(`Dataset ${name}: ${top} (unpacked earlier)`);
    return top;
  }
  const debs = join(datasetsDir, 'debs');
  mkdirSync(debs, { recursive: true });
  let deb = findDeb(debs, tree.package);
  if (deb === undefined) {
    console.log(`Dataset ${name}: fetching ${tree.package} with apt-get download into ${debs}…`);
    try {
      execFileSync('apt-get', ['download', tree.package], { cwd: debs, stdio: 'inherit' });
    } catch {
      throw new UsageError(`apt-get download ${tree.package} failed (is the package known? try apt-get update)`);
    }
    deb = findDeb(debs, tree.package);
    if (deb === undefined) throw new UsageError(`apt-get download ${tree.package} left no .deb in ${debs}`);
  }
  const member = findMember(deb, tree.tarball);
  if (member === undefined) throw new UsageError(`${deb} holds no file matching ${tree.tarball}`);
  console.log(`Dataset ${name}: unpacking ${member} from ${basename(deb)} into ${unpacked}…`);
  rmSync(unpacked, { recursive: true, force: true });
  mkdirSync(join(unpacked, '.deb'), { recursive: true });
  execFileSync('bash', ['-o', 'pipefail', '-c', 'dpkg-deb --fsys-tarfile "$1" | tar x -C "$2" "$3"', 'bash', deb, join(unpacked, '.deb'), member], { stdio: 'inherit' });
  // The tarball's owners are its builder's; the tree belongs to whoever runs the benchmark.
  execFileSync('tar', ['--no-same-owner', '-xJf', join(unpacked, '.deb', member), '-C', unpacked], { stdio: 'inherit' });
  rmSync(join(unpacked, '.deb'), { recursive: true, force: true });
  const tops = readdirSync(unpacked);
  if (tops.length !== 1) throw new Error(`${member} did not unpack into one folder: ${tops.join(', ')}`);
  const top = tops[0] as string;
  writeFileSync(marker, `${top}\n`);
  console.log(`Dataset ${name}: ${join(unpacked, top)}`);
  return join(unpacked, top);
}

function findDeb(folder: string, pkg: string): string | undefined {
  const names = readdirSync(folder).filter((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  const newest = names.sort().pop();
  return newest === undefined ? undefined : join(folder, newest);
}

/** The tarball's path as the package lists it (`dpkg-deb -c`: the path is the last column). */
function findMember(deb: string, tarball: RegExp): string | undefined {
  const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' });
  return listing
    .split('\n')
    .map((line) => line.trim().split(/\s+/).pop() ?? '')
    .find((path) => tarball.test(path));
}
