import { formatBytes } from '../../src-shared/units.js';
import type { Measurement } from './measure.js';

const MiB = 1024 * 1024;

export const scenarios = ['first backup', 'no-change backup', 'small change', 'after mutation', 'restore', 'verify all data'] as const;
export type Scenario = (typeof scenarios)[number];
export const backupScenarios: readonly Scenario[] = ['first backup', 'no-change backup', 'small change', 'after mutation'];

export interface Step extends Measurement {
  /** The repository's size after a backup step. */
  repoBytes?: number;
}

/** One repetition: each tool's step per scenario. */
export type RunResults = Record<string, Partial<Record<Scenario, Step>>>;

export interface Cell {
  /** Medians over the repetitions; `runs` the times of each. */
  seconds: number;
  runs: number[];
  cpuSeconds: number;
  coresBusy: number;
  mbps: number;
  repoBytes?: number;
  /** The largest seen. */
  peakRssMb: number;
  /** Hindsight only: the median of the per-repetition time ratios to each peer (same data, same moment). */
  ratios: Record<string, number>;
  /** Hindsight only, after backups: the median of the per-repetition repository size ratios to each peer. */
  repoRatios: Record<string, number>;
}

export type Summary = Record<string, Partial<Record<Scenario, Cell>>>;

export function median(numbers: readonly number[]): number {
  if (numbers.length === 0) return NaN;
  const sorted = [...numbers].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Medians per tool and scenario over the repetitions of one dataset; `bytes` is the data's size, for MB/s. */
export function summarize(runs: readonly RunResults[], bytes: number): Summary {
  const names = Object.keys(runs[0] ?? {});
  const peers = names.filter((name) => name !== 'hindsight');
  const summary: Summary = {};
  for (const name of names) {
    const row: Partial<Record<Scenario, Cell>> = {};
    for (const scenario of scenarios) {
      const steps = runs.map((run) => run[name]?.[scenario]);
      if (steps.some((step) => step === undefined)) continue;
      const ms = steps as Step[];
      const perRun = (peer: string, ratio: (mine: Step, theirs: Step) => number) =>
        median(ms.map((mine, i) => { const theirs = runs[i]?.[peer]?.[scenario]; return theirs ? ratio(mine, theirs) : NaN; }).filter((r) => !Number.isNaN(r)));
      const seconds = median(ms.map((m) => m.seconds));
      const repoBytes = ms.every((m) => m.repoBytes !== undefined) ? median(ms.map((m) => m.repoBytes as number)) : undefined;
      row[scenario] = {
        seconds,
        runs: ms.map((m) => m.seconds),
        cpuSeconds: median(ms.map((m) => m.cpuSeconds)),
        coresBusy: median(ms.map((m) => m.cpuSeconds / Math.max(m.seconds, 0.01))),
        mbps: bytes / MiB / Math.max(seconds, 0.01),
        ...(repoBytes !== undefined ? { repoBytes } : {}),
        peakRssMb: Math.max(...ms.map((m) => m.peakRssMb)),
        ratios: name === 'hindsight' ? Object.fromEntries(peers.map((peer) => [peer, perRun(peer, (a, b) => a.seconds / b.seconds)])) : {},
        repoRatios:
          name === 'hindsight' && repoBytes !== undefined
            ? Object.fromEntries(peers.map((peer) => [peer, perRun(peer, (a, b) => (a.repoBytes ?? NaN) / (b.repoBytes ?? NaN))]))
            : {},
      };
    }
    summary[name] = row;
  }
  return summary;
}

const ratioText = (ratio: number | undefined) => (ratio === undefined || Number.isNaN(ratio) ? '' : `${ratio.toFixed(2)}×`);

/** The Markdown table of one dataset: a row per scenario and tool. */
export function formatTable(summary: Summary, repeat: number): string {
  const names = Object.keys(summary);
  const peers = names.filter((name) => name !== 'hindsight');
  const many = repeat > 1;
  // Cells joined from arrays, so a run without peers (--only) has no empty ratio column.
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    row(['scenario', 'tool', ...(many ? ['median time (s)', 'runs (s)'] : ['time (s)']), 'CPU (s)', 'cores busy', 'MB/s', 'repository', 'peak RSS (MB)', ...peers.map((p) => `time vs ${p}`)]),
    row(['---', '---', ...(many ? ['---:', '---:'] : ['---:']), '---:', '---:', '---:', '---:', '---:', ...peers.map(() => '---:')]),
  ];
  for (const scenario of scenarios) {
    for (const name of names) {
      const m = summary[name]?.[scenario];
      if (m === undefined) continue;
      const times = many ? [m.seconds.toFixed(2), m.runs.map((s) => s.toFixed(2)).join(' ')] : [m.seconds.toFixed(2)];
      const repository = m.repoBytes !== undefined ? formatBytes(m.repoBytes) : '';
      lines.push(row([scenario, name, ...times, m.cpuSeconds.toFixed(2), m.coresBusy.toFixed(2), m.mbps.toFixed(0), repository, m.peakRssMb.toFixed(0), ...peers.map((peer) => ratioText(m.ratios[peer]))]));
    }
  }
  return lines.join('\n');
}

export type Verdict = 'met' | 'not met' | 'n/a';

export interface TargetResult {
  target: string;
  verdict: Verdict;
  /** The measured figure(s) behind the verdict. */
  detail: string;
}

/** A time ratio target against one or more peers: met when every ratio is at or below the limit. */
function ratioTarget(summary: Summary, target: string, scenario: Scenario, limits: Record<string, number>): TargetResult {
  const ratios = Object.keys(limits).map((peer) => ({ peer, ratio: summary.hindsight?.[scenario]?.ratios[peer] }));
  if (ratios.some(({ ratio }) => ratio === undefined || Number.isNaN(ratio))) return { target, verdict: 'n/a', detail: 'peer not run' };
  const met = ratios.every(({ peer, ratio }) => (ratio as number) <= (limits[peer] as number));
  return { target, verdict: met ? 'met' : 'not met', detail: ratios.map(({ peer, ratio }) => `${ratioText(ratio)} ${peer}`).join(', ') };
}

/** The issue's targets (issue 18), judged on one dataset's summary. */
export function judgeTargets(summary: Summary): TargetResult[] {
  const mine = summary.hindsight ?? {};
  const results = [
    ratioTarget(summary, 'first backup ≤ 0.5× restic and ≤ 0.5× borg', 'first backup', { restic: 0.5, borg: 0.5 }),
  ];
  const busy = mine['first backup']?.coresBusy;
  results.push(
    busy === undefined
      ? { target: 'first backup cores busy ≥ 1.7', verdict: 'n/a', detail: 'not run' }
      : { target: 'first backup cores busy ≥ 1.7', verdict: busy >= 1.7 ? 'met' : 'not met', detail: busy.toFixed(2) },
    ratioTarget(summary, 'no-change backup ≤ 0.4× restic', 'no-change backup', { restic: 0.4 }),
    ratioTarget(summary, 'small change ≤ 0.4× restic', 'small change', { restic: 0.4 }),
    ratioTarget(summary, 'restore ≤ 0.6× restic', 'restore', { restic: 0.6 }),
    ratioTarget(summary, 'verify all data ≤ 0.6× restic', 'verify all data', { restic: 0.6 }),
  );
  const peaks = scenarios.flatMap((scenario) => (mine[scenario] ? [{ scenario, mb: (mine[scenario] as Cell).peakRssMb }] : []));
  const worst = peaks.reduce<{ scenario: Scenario; mb: number } | undefined>((a, b) => (a === undefined || b.mb > a.mb ? b : a), undefined);
  results.push(
    worst === undefined
      ? { target: 'peak RSS ≤ 200 MB', verdict: 'n/a', detail: 'not run' }
      : { target: 'peak RSS ≤ 200 MB', verdict: worst.mb <= 200 ? 'met' : 'not met', detail: `${worst.mb.toFixed(0)} MB in ${worst.scenario}` },
  );
  const sizes = backupScenarios.flatMap((scenario) => {
    const ratio = mine[scenario]?.repoRatios.borg;
    return ratio === undefined || Number.isNaN(ratio) ? [] : [{ scenario, ratio }];
  });
  const largest = sizes.reduce<{ scenario: Scenario; ratio: number } | undefined>((a, b) => (a === undefined || b.ratio > a.ratio ? b : a), undefined);
  const percent = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(2)}%`;
  results.push(
    largest === undefined
      ? { target: 'repository ≤ borg + 2%', verdict: 'n/a', detail: 'peer not run' }
      : { target: 'repository ≤ borg + 2%', verdict: largest.ratio <= 1.02 ? 'met' : 'not met', detail: `${percent(largest.ratio)} after ${largest.scenario}` },
  );
  return results;
}

/** One table: a row per target, a column per dataset. */
export function formatTargets(datasets: readonly { name: string; targets: TargetResult[] }[]): string {
  const targets = datasets[0]?.targets.map((t) => t.target) ?? [];
  const lines = [`| target | ${datasets.map((d) => d.name).join(' | ')} |`, `| --- | ${datasets.map(() => '---').join(' | ')} |`];
  for (const target of targets) {
    const cells = datasets.map((d) => {
      const result = d.targets.find((t) => t.target === target);
      return result === undefined ? '' : result.verdict === 'n/a' ? 'n/a' : `${result.verdict === 'met' ? '**met**' : 'not met'} (${result.detail})`;
    });
    lines.push(`| ${target} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface DatasetReport {
  name: string;
  description: string;
  mutation: string;
  files: number;
  folders: number;
  links: number;
  bytes: number;
  ceilings: Record<string, number>;
  /** "restic 0.14.0" and so on, as run. */
  tools: string[];
  summary: Summary;
  targets: TargetResult[];
}

export function formatCeilings(ceilings: Record<string, number>): string {
  const f = (key: string) => (ceilings[key] ?? NaN).toFixed(0);
  return `Ceilings on this data: read ${f('readMBps')} MB/s, zstd -3 (one thread) ${f('zstd3MBps')} MB/s, AES-256-GCM ${f('aes256gcmMBps')} MB/s, SHA-256 ${f('sha256MBps')} MB/s (openssl speed, 16 KiB blocks).`;
}

/** "78,579 files, 5,095 folders, 56 symbolic links, 1.2 GiB (1,298,682,509 bytes)". */
export function formatShape(report: Pick<DatasetReport, 'files' | 'folders' | 'links' | 'bytes'>): string {
  const n = (count: number) => count.toLocaleString('en-US');
  return `${n(report.files)} files, ${n(report.folders)} folders${report.links > 0 ? `, ${n(report.links)} symbolic links` : ''}, ${formatBytes(report.bytes)} (${n(report.bytes)} bytes)`;
}

export function formatDatasetSection(report: DatasetReport, machine: string, repeat: number): string {
  return [
    `## ${report.name}`,
    '',
    `- Data: ${report.description}.`,
    `- Shape: ${formatShape(report)}.`,
    `- After mutation: ${report.mutation}.`,
    `- Machine: ${machine}; ${report.tools.join(', ')}.`,
    `- ${formatCeilings(report.ceilings)}`,
    '',
    formatTable(report.summary, repeat),
  ].join('\n');
}

/** The whole of BENCHMARKS.md for one run. */
export function formatBenchmarks(reports: readonly DatasetReport[], machine: string, command: string, repeat: number): string {
  const repeatNote =
    repeat > 1
      ? `Repeated ${repeat} times per dataset, each with a fresh copy of the data and fresh repositories, the tools interleaved scenario by scenario and starting with a different tool each time; times, CPU and cores busy are medians, ratios the median of the per-repetition ratios, peak RSS the largest seen.`
      : 'One repetition: the issue asks for medians of at least 3 (`--repeat 3`) before a target counts.';
  const baseline = reports[0]?.tools.find((tool) => tool.startsWith('baseline '));
  const baselineNote = baseline
    ? ` The \`baseline\` rows are an earlier Hindsight build (${baseline.slice('baseline '.length)}) run in the same run (\`--baseline\`): Hindsight's before and after on the same machine, data and moment.`
    : '';
  return `# Benchmarks

Last full run of \`${command}\` on ${machine}.

Every dataset is backed up by each tool in turn, scenario by scenario: first backup, backup with no change, small change (1% of the files changed, half of them only touched, half with a few bytes edited in place, 0.1% added and 0.1% deleted; seeded), after mutation (see each dataset), full restore of the last backup, and verification of all data. Real trees are copied before each repetition and the copy is what is mutated and backed up. Before each step, dirty pages are written out (\`sync\`) and what the step reads (the data, or the tool's repository) is read into the page cache: borg drops the files it reads from the cache; every tool encrypts; Hindsight and borg use zstd 3, restic its default compression. CPU is user plus system time (GNU time); cores busy is CPU ÷ wall time. ${repeatNote}${baselineNote}

${reports.map((report) => formatDatasetSection(report, machine, repeat)).join('\n\n')}

Time ratios below 1 mean Hindsight was faster. MB/s is source data per second.

## Targets (issue 18)

${formatTargets(reports)}
`;
}
