#!/usr/bin/env -S node --max-semi-space-size=4 --initial-old-space-size=32
let cli;
try {
  // The V8 flags first (heap growth, optimisation budget; the desktop agent sets the same ones), then the CLI.
  (await import("../build/src-main/agent/v8Flags.js")).applyV8Flags(); if (process.env.HS_IB) (await import("node:v8")).setFlagsFromString("--interrupt-budget=" + process.env.HS_IB);
  cli = await import('../build/bundle/cli/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  console.error('hindsight: the CLI is not built yet; run "npm run build" in the Hindsight folder.');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
