/**
 * Environment the agent's process is started with, by whoever starts it: the desktop app (agentEnv) and,
 * for `hindsight agent` under systemd, the unit (README). glibc's malloc reads it once, at start.
 *
 * glibc gives threads that allocate at once arenas of their own, up to 8 per core (16 here), and a
 * backup's threads (file workers, the walk, libuv's pool, V8's helpers) left ~15 MB of part-used arenas
 * behind, which malloc_trim(0) did not give back (0.6 MB). With two arenas the idle agent holds 88 MB a
 * minute after a backup of the linux tree instead of 99-103 MB (`npm run bench:agent`, Intel Xeon VM, 2
 * cores), and the backup's peak was 245 MB instead of 254. Not for the CLI: its restores ran 3-8% slower
 * with two or four arenas (alternating rounds of the linux tree), and a command does not sit in memory.
 */
export const AGENT_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
