import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for every process that runs backups: the CLI (bin/hindsight.js) and the desktop agent in
 * Electron's utility process (utilityMain.ts). Set before the engine loads; they apply to worker threads too.
 */
export const V8_FLAGS = [
  // After each full collection the heap may grow 30% past what is live, instead of V8's default of up to
  // 4×: a backup of many small files makes garbage fast, and by default one of 200,000 files peaked at
  // 410–430 MiB where 305 was enough, as fast (1 million files: ~600 MiB).
  '--heap-growing-percent=30',
  // Optimise a function only once it has run ~15× longer than V8's default asks. A command lives for
  // seconds in four threads, each compiling its own copy of the code: by default TurboFan took ~0.45 s of
  // CPU in a 1.4 s first backup (perf, 256 MiB set, 2 cores), much of it on functions that then ran only
  // briefly. Hot loops (the chunker) still get optimised within milliseconds. Medians of alternating
  // rounds: first backup 1.62 → 1.48 s (CPU 2.84 → 2.46 s), no-change 0.61 → 0.51 s.
  '--interrupt-budget=1000000',
  // The old generation's floor in ENGINE_EXEC_ARGV is the main thread's only: worker threads made from here
  // on start without one (this flag is read as each isolate is made). Theirs would add up to 32 MB of
  // uncollected garbage each for no measured gain (first backups and restores ran no faster with it).
  '--initial-old-space-size=0',
] as const;

/**
 * Command-line flags for every process that runs the engine: the agent (Electron's utility process,
 * agentHost.ts) and the CLI, whose bin/hindsight.js carries the same on its `#!/usr/bin/env -S node …`
 * line (npm's Windows shim reads it too). They size each isolate when it is made, so they cannot be set
 * once it runs. A young generation of at most 2 × 4 MB instead of V8's 2 × 16, in each of a backup's
 * four threads: the agent idles in the tray all day, and after a backup V8 kept the young generation it
 * had grown to, collected or not (`npm run bench:agent` on a 78,579-file tree, 30 s after a backup:
 * 127–130 MB with V8's default, 98–100 MB with this; the backup's peak 356 -> 322 MB). The CLI's first
 * backup of that tree: peak RSS 293–294 -> 263–266 MB, CPU 20.0–23.3 vs 20.3–22.9 s (3 alternating
 * rounds each, AMD EPYC, 2 cores): the smaller young generation is collected more often, for no
 * measurable CPU.
 */
export const ENGINE_EXEC_ARGV = [
  '--max-semi-space-size=4',
  // The main thread's old generation is not collected whole before it holds 32 MB (V8 takes an initial
  // size given by the embedder as a floor). Its live heap is small (8-11 MB in a small-change backup of
  // the 78,579-file tree), so with heap-growing-percent=30 every 2-3 MB promoted started a full
  // collection: 88 of them in that backup (--trace-gc), and the incremental marking around them slowed
  // every write the walk made. With the floor: 32 full collections, and the backup took 5.2-5.8 CPU-s
  // instead of 6.4-6.9 (3 alternating rounds, AMD EPYC, 2 cores) for 0-8 MB more peak RSS.
  '--initial-old-space-size=32',
] as const;

export function applyV8Flags(): void {
  for (const flag of V8_FLAGS) setFlagsFromString(flag);
}
