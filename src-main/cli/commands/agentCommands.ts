import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { JobRecord, PlanStatus } from '../../../src-shared/api.js';
import * as v from 'valibot';
import { CommandSourceSchema, describePlanSources, planSourcesProblem, type CommandSource, type PlanInput, type Schedule, type TargetSettings } from '../../../src-shared/plan.js';
import { formatBytes, formatCount, formatLocalTime, parseDuration } from '../../../src-shared/units.js';
import { runAgent } from '../../agent/agentProcess.js';
import { agentSocketPath, appDataDir } from '../../agent/appDataDir.js';
import { KeychainUnavailable, KeytarSecretStore } from '../../agent/secretStore.js';
import type { AgentAccess } from '../../agent/agentAccess.js';
import { withAgent } from '../agentConnection.js';
import { HindsightError } from '../../../src-shared/errors.js';
import { UsageError } from '../cliError.js';
import type { Command } from '../command.js';
import { checkedEndpoint, checkedFingerprint } from '../targetOptionChecks.js';
import { readPassword } from '../password.js';
import { progressReporter } from '../progressLine.js';

export const agentCommand: Command = {
  name: 'agent',
  summary: 'run the agent (schedules, watching, jobs) in the foreground',
  help: `Usage: hindsight agent

Runs the agent in the foreground, for headless machines and systemd: it runs
plans on their schedules, watches continuous plans for changes, and serves
"hindsight plan|status|pause|resume" and "hindsight serve" over a local socket
(${agentSocketPath()}). Stop it with Ctrl-C or SIGTERM: running jobs stop at a
safe point and continue on the next start.

Plans, job history and settings are kept in ${appDataDir()}
($HINDSIGHT_DATA_DIR). Repository passwords come from the system keychain; with
no keychain, HINDSIGHT_PASSWORD is used for every repository.`,
  options: {},
  interruptible: true,
  async run(_values, _positionals, { signal }) {
    const secrets = new KeytarSecretStore();
    const running = await runAgent({ dataDir: appDataDir(), socketPath: agentSocketPath(), secrets });
    console.log(`Hindsight agent running; socket ${running.socketPath}`);
    // Said at start-up, not at the first backup that finds no password.
    await secrets.get('hindsight-start-up').catch((err: unknown) => {
      if (!(err instanceof KeychainUnavailable)) throw err;
      console.warn(`warning: no system keychain (${err.detail}): repository passwords are kept for this session only${process.env.HINDSIGHT_PASSWORD ? ', and HINDSIGHT_PASSWORD is used for every repository' : '; set HINDSIGHT_PASSWORD, or give each password again after a restart'}.`);
    });
    running.agent.subscribe((event) => {
      if (event.type === 'job.started') console.log(`job ${event.job.id.slice(0, 8)} queued: ${event.job.kind}${event.job.planId ? ` (plan ${event.job.planId.slice(0, 8)})` : ''}`);
      if (event.type === 'job.finished') console.log(`job ${event.job.id.slice(0, 8)} ${event.job.result}${event.job.message ? `: ${event.job.message}` : ''}`);
      if (event.type === 'warning') console.warn(`warning: ${event.warning.path}: ${event.warning.message}`);
    });
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    console.log('Stopping: running jobs stop at a safe point.');
    await running.stop();
  },
};

const PLAN_HELP = `Usage: hindsight plan add --name NAME --repo LOCATION [schedule] [options] PATH...
       hindsight plan add --name NAME --repo LOCATION [schedule] [options]
                          --stdin-from-command --stdin-filename FILE -- COMMAND ARGS...
       hindsight plan list [--json]
       hindsight plan remove PLAN
       hindsight plan run PLAN

A plan is what the agent backs up, where, and when. PLAN is a plan's id (or
its first characters) or its name. Talks to the running agent, or changes the
plans directly when no agent runs.

Schedule (one of; default --manual):
      --every DURATION      every DURATION after the last run (e.g. 1h, 30m)
      --cron EXPRESSION     a cron expression (local time), e.g. "0 * * * *"
      --continuous          back up as files change (watching folders), after
      --debounce DURATION   this much quiet (default 60s), at most
      --max-wait DURATION   this long after the first change (default 10m)
      --manual              only with "plan run"

Options for add:
  -r, --repo LOCATION       target repository; repeat it for one repository kept on several targets
                            (seed the others with "hindsight copy"): every snapshot goes to all
      --password-file FILE  the repository password (else $HINDSIGHT_PASSWORD, else asked);
                            kept in the system keychain for the agent
      --exclude PATTERN     gitignore-style exclude (repeatable; default: the desktop defaults)
      --full-every DAYS     a full backup (re-read everything) every DAYS days
      --keep-last N, --keep-hourly N, --keep-daily N, --keep-weekly N,
      --keep-monthly N, --keep-yearly N   retention, applied after each backup
      --prune-every DAYS    prune the targets every DAYS days
      --rest-cacert FILE    rest:https:// targets: also trust the certificates in this PEM file
      --rest-fingerprint SHA256:…  rest:https:// targets: trust only the certificate with this
                            fingerprint (as hindsight server prints it), no CA
      --ssh-key FILE        sftp:// targets: private key to log in with (repeatable)
      --known-hosts FILE    sftp:// targets: host keys to trust instead of ~/.ssh/known_hosts
      --s3-region REGION    s3 targets: the bucket's region
      --s3-virtual-hosted   s3 targets: bucket in the host name instead of the path
      --azure-endpoint URL  azure:// targets: the account's blob endpoint when it is not
                            https://ACCOUNT.blob.core.windows.net (Azurite, a national cloud)
      --rclone-program PATH rclone: targets: the rclone to run
      --rclone-args "ARGS"  rclone: targets: what rclone runs before REMOTE:PATH
                            (the agent keeps these per target; a user name and password
                            written in a rest: location go to the keychain, not the plan)
      --disabled            add it switched off
      --stdin-from-command  back up the standard output of COMMAND (after --) instead of
                            paths, run by the agent without a shell (a database dump);
                            a run where it exits with a status other than 0 fails
      --stdin-filename FILE the name the output is stored under (default: stdin)`;

const KEEPS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;

export const planCommand: Command = {
  name: 'plan',
  summary: 'add, list, remove or run backup plans',
  help: PLAN_HELP,
  options: {
    name: { type: 'string' },
    repo: { type: 'string', short: 'r', multiple: true },
    'password-file': { type: 'string' },
    every: { type: 'string' },
    cron: { type: 'string' },
    continuous: { type: 'boolean' },
    debounce: { type: 'string' },
    'max-wait': { type: 'string' },
    manual: { type: 'boolean' },
    exclude: { type: 'string', multiple: true },
    'full-every': { type: 'string' },
    ...Object.fromEntries(KEEPS.map((k) => [`keep-${k}`, { type: 'string' }])),
    'prune-every': { type: 'string' },
    'rest-cacert': { type: 'string' },
    'rest-fingerprint': { type: 'string' },
    'ssh-key': { type: 'string', multiple: true },
    'known-hosts': { type: 'string' },
    's3-region': { type: 'string' },
    's3-virtual-hosted': { type: 'boolean' },
    'azure-endpoint': { type: 'string' },
    'rclone-program': { type: 'string' },
    'rclone-args': { type: 'string' },
    disabled: { type: 'boolean' },
    'stdin-from-command': { type: 'boolean' },
    'stdin-filename': { type: 'string' },
    json: { type: 'boolean' },
  },
  takesArguments: true,
  async run(values, positionals) {
    const [action, ...rest] = positionals;
    const takes = ({ list: 0, remove: 1, run: 1 } as Record<string, number>)[action ?? ''];
    if (takes !== undefined && rest.length !== takes) throw new UsageError(takes === 0 ? `"plan ${action}" takes no arguments.` : `"plan ${action}" takes one plan (its id or name).`);
    // The options describe a new plan: given to another action they would be silently ignored.
    const misplaced = action === 'add' ? undefined : Object.keys(values).find((option) => !(action === 'list' && option === 'json'));
    if (misplaced) throw new UsageError(`"plan ${action}" does not take --${misplaced} (it is an option of "plan add").`);
    switch (action) {
      case 'add':
        return addPlan(values, rest);
      case 'list':
        return withAgent(async (agent) => {
          const [plans, status] = [await agent.call('plans.list', {}), await agent.call('status.get', {})];
          if (values.json) return void console.log(JSON.stringify(plans, null, 2));
          for (const plan of plans) {
            const s = status.plans.find((p) => p.planId === plan.id);
            console.log(`${plan.id.slice(0, 8)}  ${plan.name}  ${describeSchedule(plan.schedule)}${plan.enabled ? '' : ' (disabled)'}  ${describeState(s)}`);
            console.log(`          ${describePlanSources(plan)} → ${plan.targets.join(', ')}`);
          }
          console.log(`${plans.length} plan${plans.length === 1 ? '' : 's'}`);
        });
      case 'remove':
        return withAgent(async (agent) => {
          const plan = await findPlan(agent, rest);
          await agent.call('plans.delete', { id: plan.id });
          console.log(`Plan "${plan.name}" removed (its snapshots stay in the repository).`);
        });
      case 'run':
        return withAgent(async (agent) => {
          const plan = await findPlan(agent, rest);
          const job = await runAndWait(agent, () => agent.call('jobs.backup', { planId: plan.id }));
          if (job.result !== 'succeeded') throw new HindsightError('E_JOB_FAILED', `The backup of "${plan.name}" ${job.result}${job.message ? `: ${job.message}` : ''}`);
          const added = Number(job.summary?.bytesAdded ?? 0);
          console.log(`Plan "${plan.name}": snapshot ${String(job.summary?.snapshot ?? '').slice(0, 8)} saved, ${formatBytes(added)} added.`);
          return job.warnings > 0 ? 3 : 0;
        });
      default:
        throw new UsageError(action === undefined ? 'Say what to do: hindsight plan add|list|remove|run.' : `Unknown plan action "${action}".`);
    }
  },
};

/** A plan's command source from what follows --: checked here so a mistake is a usage error, not the agent's. */
function commandSourceFrom(command: string[], filename = 'stdin'): CommandSource {
  const parsed = v.safeParse(CommandSourceSchema, { command, filename });
  if (!parsed.success) throw new UsageError(command.length === 0 ? 'Say which command to run after --, as in: --stdin-from-command --stdin-filename db.sql -- pg_dump mydb' : (parsed.issues[0]?.message ?? 'That command cannot be a plan\'s source.'));
  return parsed.output;
}

async function addPlan(values: Record<string, unknown>, paths: string[]): Promise<void> {
  const name = values.name as string | undefined;
  const targets = (values.repo as string[] | undefined) ?? (process.env.HINDSIGHT_REPO ? [process.env.HINDSIGHT_REPO] : []);
  if (!name) throw new UsageError('Give the plan a --name.');
  if (targets.length === 0) throw new UsageError('Say where backups go: --repo LOCATION (repeatable).');
  const command = values['stdin-from-command'] === true ? commandSourceFrom(paths, values['stdin-filename'] as string | undefined) : undefined;
  if (!command && values['stdin-filename'] !== undefined) throw new UsageError('--stdin-filename goes with --stdin-from-command.');
  if (paths.length === 0) throw new UsageError('Say what to back up: one or more paths.');
  const input: PlanInput = {
    name,
    sources: command ? [] : paths,
    ...(command ? { command } : {}),
    targets,
    schedule: scheduleFrom(values),
    enabled: values.disabled !== true,
    ...(values.exclude ? { excludes: values.exclude as string[] } : {}),
    ...(values['full-every'] !== undefined ? { fullEveryDays: wholeNumber('--full-every', values['full-every']) } : {}),
    ...(values['prune-every'] !== undefined ? { pruneEveryDays: wholeNumber('--prune-every', values['prune-every']) } : {}),
  };
  for (const [option, kind] of Object.entries(TARGET_OPTION_KINDS)) {
    if (values[option] !== undefined && !targets.some((target) => target.toLowerCase().startsWith(`${kind}:`))) {
      throw new UsageError(`--${option} is for ${kind}: targets, and none of this plan's targets is one.`);
    }
  }
  const targetSettings = Object.fromEntries(targets.flatMap((target) => {
    const settings = settingsFor(target, values);
    return settings ? [[target, settings] as const] : [];
  }));
  if (Object.keys(targetSettings).length > 0) input.targetSettings = targetSettings;
  const retention = Object.fromEntries(KEEPS.filter((k) => values[`keep-${k}`] !== undefined).map((k) => [k, wholeNumber(`--keep-${k}`, values[`keep-${k}`])]));
  if (Object.keys(retention).length > 0) input.retention = retention;
  const problem = planSourcesProblem({ ...input, schedule: input.schedule as Schedule });
  if (problem) throw new UsageError(problem);
  // Folders on another machine are looked at when the agent backs them up (with its SSH keys, not these).
  for (const path of command ? [] : paths.filter((p) => !/^sftp:\/\//i.test(p))) {
    await lstat(path).catch((err: NodeJS.ErrnoException) => {
      throw new HindsightError('E_SOURCE_MISSING', `Cannot back up ${path}: ${err.code === 'ENOENT' ? 'it does not exist' : err.message}.`);
    });
  }
  await withAgent(async (agent) => {
    if ((await agent.call('plans.list', {})).some((plan) => plan.name === name)) {
      throw new HindsightError('E_PLAN_EXISTS', `There is already a plan named "${name}"; choose another name, or remove that plan first.`);
    }
    // Without a keychain the password is kept for this session only: say so rather than store nothing silently.
    const stopWarnings = agent.onEvent((event) => {
      if (event.type === 'warning') console.error(`warning: ${event.warning.path}: ${event.warning.message}${agent.remote ? '' : ' Without a keychain, a running agent needs HINDSIGHT_PASSWORD.'}`);
    });
    const known = new Set((await agent.call('repositories.list', {})).filter((r) => r.unlocked).map((r) => r.location));
    for (const location of targets.filter((t) => !known.has(t))) {
      const password = await readPassword({ file: values['password-file'] as string | undefined, env: 'HINDSIGHT_PASSWORD', prompt: `Password of ${location}` });
      const settings = settingsFor(location, values);
      await agent.call('repositories.connect', { location, password, remember: true, ...(settings ? { settings } : {}) });
    }
    stopWarnings();
    const plan = await agent.call('plans.create', input);
    console.log(`Plan "${plan.name}" added (${plan.id.slice(0, 8)}), ${describeSchedule(plan.schedule)}.`);
  });
}

/** Which kind of target each target option of "plan add" is for. */
const TARGET_OPTION_KINDS = {
  'rest-cacert': 'rest',
  'rest-fingerprint': 'rest',
  'ssh-key': 'sftp',
  'known-hosts': 'sftp',
  's3-region': 's3',
  's3-virtual-hosted': 's3',
  'azure-endpoint': 'azure',
  'rclone-program': 'rclone',
  'rclone-args': 'rclone',
} as const;

/** The target settings the target options give a target of their kind (--rest-cacert to rest: targets…), if any. */
function settingsFor(target: string, values: Record<string, unknown>): TargetSettings | undefined {
  const text = (key: string) => values[key] as string | undefined;
  const kind = /^([a-z0-9]+):/i.exec(target)?.[1]?.toLowerCase();
  const settings: TargetSettings =
    kind === 'rest'
      ? {
          ...(text('rest-cacert') ? { restCaCert: resolve(text('rest-cacert') as string) } : {}),
          ...(text('rest-fingerprint') ? { restFingerprint: checkedFingerprint(text('rest-fingerprint') as string) } : {}),
        }
      : kind === 'rclone'
        ? { ...(text('rclone-program') ? { rcloneProgram: text('rclone-program') as string } : {}), ...(text('rclone-args') !== undefined ? { rcloneArgs: text('rclone-args') as string } : {}) }
        : kind === 'sftp'
          ? {
              ...(values['ssh-key'] ? { sshKeys: (values['ssh-key'] as string[]).map((file) => resolve(file)) } : {}),
              ...(text('known-hosts') ? { knownHosts: resolve(text('known-hosts') as string) } : {}),
            }
          : kind === 's3'
            ? { ...(text('s3-region') ? { s3Region: text('s3-region') as string } : {}), ...(values['s3-virtual-hosted'] ? { s3VirtualHosted: true } : {}) }
            : kind === 'azure'
              ? { ...(text('azure-endpoint') ? { azureEndpoint: checkedEndpoint(text('azure-endpoint') as string) } : {}) }
              : {};
  return Object.keys(settings).length > 0 ? settings : undefined;
}

function scheduleFrom(values: Record<string, unknown>): Schedule {
  const chosen = ['every', 'cron', 'continuous', 'manual'].filter((k) => values[k] !== undefined);
  if (chosen.length > 1) throw new UsageError(`Choose one schedule, not ${chosen.map((c) => `--${c}`).join(' and ')}.`);
  if (values.every !== undefined) {
    const ms = parseDuration(values.every as string);
    if (ms === undefined || ms < 60_000) throw new UsageError('--every takes a duration of at least a minute, such as 30m or 1h.');
    return { kind: 'interval', everyMinutes: Math.round(ms / 60_000) };
  }
  if (values.cron !== undefined) return { kind: 'cron', expression: values.cron as string };
  if (values.continuous) {
    const seconds = (flag: string, fallback: number) => {
      if (values[flag] === undefined) return fallback;
      const ms = parseDuration(values[flag] as string);
      if (ms === undefined) throw new UsageError(`--${flag} takes a duration such as 30s or 10m.`);
      return ms / 1000;
    };
    return { kind: 'continuous', debounceSeconds: seconds('debounce', 60), maxWaitSeconds: seconds('max-wait', 600) };
  }
  return { kind: 'manual' };
}

function wholeNumber(flag: string, value: unknown): number {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw new UsageError(`${flag} takes a whole number.`);
  return Number(value);
}

async function findPlan(agent: AgentAccess, args: string[]) {
  const key = args[0];
  if (key === undefined) throw new UsageError('Say which plan (its id or name).');
  const plans = await agent.call('plans.list', {});
  const matches = plans.filter((p) => p.id === key || p.name === key || (key.length >= 4 && p.id.startsWith(key)));
  if (matches.length === 1) return matches[0] as (typeof plans)[number];
  if (matches.length === 0) throw new HindsightError('E_PLAN_NOT_FOUND', `No plan "${key}"; see hindsight plan list.`);
  throw new UsageError(`"${key}" matches several plans; give more of the id.`);
}

/** Starts a job and follows it to its end, with a progress line. */
export async function runAndWait(agent: AgentAccess, start: () => Promise<JobRecord>): Promise<JobRecord> {
  const progress = progressReporter(false);
  let jobId: string | undefined;
  const early: JobRecord[] = [];
  let finish: ((job: JobRecord) => void) | undefined;
  const unsubscribe = agent.onEvent((event) => {
    if (event.type === 'job.progress' && event.jobId === jobId) progress.update(event.progress);
    if (event.type === 'warning' && event.jobId !== undefined && event.jobId === jobId) progress.warn('warning', event.warning);
    if (event.type === 'job.finished') {
      if (jobId === undefined) early.push(event.job);
      else if (event.job.id === jobId) finish?.(event.job);
    }
  });
  try {
    const started = await start();
    jobId = started.id;
    const done = early.find((job) => job.id === jobId);
    return done ?? (await new Promise<JobRecord>((resolve) => (finish = resolve)));
  } finally {
    unsubscribe();
    progress.done();
  }
}

function describeSchedule(schedule: Schedule): string {
  switch (schedule.kind) {
    case 'manual':
      return 'run by hand';
    case 'interval':
      return `every ${schedule.everyMinutes} min`;
    case 'cron':
      return `cron "${schedule.expression}"`;
    case 'continuous':
      return `continuous (after ${schedule.debounceSeconds}s quiet)`;
  }
}

/** "until 2026-12-05 18:00" in local time, as every other command shows times; or "until resumed". */
function untilText(until: string): string {
  return until === 'resumed by hand' || Number.isNaN(Date.parse(until)) ? 'until resumed' : `until ${formatLocalTime(until, true)}`;
}

/** The agent's state as a sentence's end: "Hindsight is idle", "… is in error (a plan's last run failed)". */
function describeAgentState(state: string): string {
  return state === 'error' ? "in error (a plan's last run failed; see hindsight plan list)" : state;
}

function describeState(status: PlanStatus | undefined): string {
  if (!status) return '';
  const parts: string[] = [status.state];
  if (status.lastRun) parts.push(`last ${status.lastRun.result} ${formatLocalTime(status.lastRun.at, true)}`);
  if (status.nextRun) parts.push(`next ${formatLocalTime(status.nextRun, true)}`);
  if (status.pausedUntil) parts.push(`paused ${untilText(status.pausedUntil)}`);
  if (status.watching === false) parts.push('not watching (periodic scans)');
  return parts.join(', ');
}

export const statusCommand: Command = {
  name: 'status',
  summary: "the agent's state: running jobs, last and next run of each plan",
  help: `Usage: hindsight status [--json]

Shows whether Hindsight is idle, running, paused or in error, the jobs running
now with their progress, the jobs queued, and each plan's last and next run.`,
  options: { json: { type: 'boolean' } },
  async run(values) {
    await withAgent(async (agent) => {
      const status = await agent.call('status.get', {});
      if (values.json) return void console.log(JSON.stringify({ ...status, agentRunning: agent.remote }, null, 2));
      console.log(`Hindsight is ${describeAgentState(status.state)}${status.pausedUntil ? ` (${untilText(status.pausedUntil)})` : ''}${agent.remote ? '' : '; no agent is running, so nothing runs on schedule'}.`);
      for (const job of status.runningJobs) {
        const p = job.progress;
        console.log(`  ${job.kind} ${job.id.slice(0, 8)}: ${p ? `${formatCount(p.filesDone, 'file')}, ${formatBytes(p.bytesDone)}${p.bytesTotal ? ` of ${formatBytes(p.bytesTotal)}` : ''}` : job.result}`);
      }
      for (const job of status.queuedJobs) console.log(`  ${job.kind} ${job.id.slice(0, 8)}: queued`);
      for (const plan of status.plans) console.log(`  ${plan.name}: ${describeState(plan)}`);
    });
  },
};

export const pauseCommand: Command = {
  name: 'pause',
  summary: 'pause backups (all, or one plan), for a while or until resumed',
  help: `Usage: hindsight pause [--for DURATION] [--plan PLAN]

Running backups stop at a safe point (what they saved is kept) and nothing
runs on schedule until "hindsight resume" or until DURATION (e.g. 1h) passes.`,
  options: { for: { type: 'string' }, plan: { type: 'string' } },
  async run(values) {
    const ms = values.for === undefined ? undefined : parseDuration(values.for as string);
    if (values.for !== undefined && (ms === undefined || ms < 1000)) throw new UsageError('--for takes a duration such as 30m or 2h.');
    await withAgent(async (agent) => {
      const planId = values.plan === undefined ? undefined : (await findPlan(agent, [values.plan as string])).id;
      const status = await agent.call('agent.pause', { ...(planId ? { planId } : {}), ...(ms !== undefined ? { forSeconds: ms / 1000 } : {}) });
      const until = planId ? status.plans.find((p) => p.planId === planId)?.pausedUntil : status.pausedUntil;
      console.log(`Paused${planId ? ` plan ${values.plan as string}` : ''} ${until === undefined ? 'until resumed' : untilText(until)}.`);
    });
  },
};

export const resumeCommand: Command = {
  name: 'resume',
  summary: 'resume paused backups',
  help: `Usage: hindsight resume [--plan PLAN]

Ends a pause; plans whose runs were held run now, continuing where a stopped
backup left off.`,
  options: { plan: { type: 'string' } },
  async run(values) {
    await withAgent(async (agent) => {
      const planId = values.plan === undefined ? undefined : (await findPlan(agent, [values.plan as string])).id;
      const status = await agent.call('agent.resume', planId ? { planId } : {});
      console.log(`Resumed; Hindsight is ${describeAgentState(status.state)}.`);
    });
  },
};
