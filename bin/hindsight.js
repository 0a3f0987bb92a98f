#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// After each full collection the heap may grow 30% past what is live, instead of V8's default of up to
// 4×: a backup of many small files makes garbage fast, and by default one of 200,000 files peaked at
// 410–430 MiB where 305 was enough, as fast (1 million files: ~600 MiB). Applies to worker threads too.
setFlagsFromString('--heap-growing-percent=30');

let cli;
try {
  cli = await import('../build/src-main/cli/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  console.error('hindsight: the CLI is not built yet; run "npm run build" in the Hindsight folder.');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
