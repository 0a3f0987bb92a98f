import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTimeLine } from './measure.js';
import { formatTable, formatTargets, judgeTargets, scenarios, summarize, type RunResults } from './report.js';

/** One repetition where each tool took `seconds[tool]` for every scenario, with 2 CPU seconds per wall second for Hindsight. */
function run(seconds: Record<string, number>, repo: Record<string, number>, rss = 150): RunResults {
  return Object.fromEntries(
    Object.entries(seconds).map(([tool, s]) => [
      tool,
      Object.fromEntries(scenarios.map((scenario) => [scenario, { seconds: s, cpuSeconds: tool === 'hindsight' ? 2 * s : s, peakRssMb: rss, ...(scenario.includes('backup') || scenario.includes('change') || scenario.includes('mutation') ? { repoBytes: repo[tool] } : {}) }])),
    ]),
  );
}

test('GNU time line: wall, CPU as user plus system, peak RSS in MB', () => {
  assert.deepEqual(parseTimeLine('2.50 3.10 0.90 204800\n'), { seconds: 2.5, cpuSeconds: 4, peakRssMb: 200 });
  assert.throws(() => parseTimeLine('Command exited with non-zero status 1'));
});

test('summary: medians, per-repetition ratios, cores busy', () => {
  const runs = [run({ hindsight: 1, restic: 4, borg: 2 }, { hindsight: 100, restic: 100, borg: 100 }), run({ hindsight: 3, restic: 4, borg: 4 }, { hindsight: 100, restic: 100, borg: 99 }), run({ hindsight: 2, restic: 10, borg: 4 }, { hindsight: 100, restic: 100, borg: 100 })];
  const summary = summarize(runs, 10 * 1024 * 1024);
  const first = summary.hindsight?.['first backup'];
  assert.equal(first?.seconds, 2);
  assert.deepEqual(first?.runs, [1, 3, 2]);
  assert.equal(first?.coresBusy, 2);
  assert.equal(first?.mbps, 5);
  assert.equal(first?.ratios.restic, 0.25); // 0.25, 0.75, 0.2
  assert.equal(first?.ratios.borg, 0.5); // 0.5, 0.75, 0.5
  assert.deepEqual(summary.restic?.['first backup']?.ratios, {});
  const table = formatTable(summary, 3);
  assert.match(table, /\| first backup \| hindsight \| 2\.00 \| 1\.00 3\.00 2\.00 \| 4\.00 \| 2\.00 \| 5 \| 100 B \| 150 \| 0\.25× \| 0\.50× \|/);
  assert.equal(table.split('\n').length, 2 + scenarios.length * 3);
  assert.match(formatTable(summarize([run({ hindsight: 1 }, { hindsight: 1 })], 1), 1).split('\n')[0] ?? '', /peak RSS \(MB\) \|$/);
});

test('targets: met and not met per dataset, n/a without peers', () => {
  const fast = summarize([run({ hindsight: 1, restic: 4, borg: 4 }, { hindsight: 101, restic: 110, borg: 100 })], 1);
  const slow = summarize([run({ hindsight: 4, restic: 4, borg: 4 }, { hindsight: 110, restic: 110, borg: 100 }, 300)], 1);
  const alone = summarize([run({ hindsight: 1 }, { hindsight: 1 })], 1);
  const verdicts = (s: typeof fast) => Object.fromEntries(judgeTargets(s).map((t) => [t.target, t.verdict]));
  assert.deepEqual(Object.values(verdicts(fast)), ['met', 'met', 'met', 'met', 'met', 'met', 'met', 'met']);
  assert.deepEqual(verdicts(slow), {
    'first backup ≤ 0.5× restic and ≤ 0.5× borg': 'not met',
    'first backup cores busy ≥ 1.7': 'met',
    'no-change backup ≤ 0.4× restic': 'not met',
    'small change ≤ 0.4× restic': 'not met',
    'restore ≤ 0.6× restic': 'not met',
    'verify all data ≤ 0.6× restic': 'not met',
    'peak RSS ≤ 200 MB': 'not met',
    'repository ≤ borg + 2%': 'not met',
  });
  assert.equal(verdicts(alone)['no-change backup ≤ 0.4× restic'], 'n/a');
  const table = formatTargets([{ name: 'linux', targets: judgeTargets(fast) }, { name: 'gcc', targets: judgeTargets(slow) }]);
  assert.match(table, /^\| target \| linux \| gcc \|/);
  assert.match(table, /\| peak RSS ≤ 200 MB \| \*\*met\*\* \(150 MB in first backup\) \| not met \(300 MB in first backup\) \|/);
  assert.match(table, /\| repository ≤ borg \+ 2% \| \*\*met\*\* \(\+1\.00% after first backup\) \|/);
});
