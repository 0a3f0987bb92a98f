#!/usr/bin/env node
let cli;
try {
  cli = await import('../build/src-main/cli/main.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  console.error('hindsight: the CLI is not built yet; run "npm run build" in the Hindsight folder.');
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
