import type { RepositoryInfo, Status } from '../../src-shared/api.js';
import { doing } from '../../src-shared/jobActivity.js';
import { formatBytes, formatDuration } from '../../src-shared/units.js';

export type TrayState = 'idle' | 'running' | 'paused' | 'error' | 'behind';

/** Whether the agent process is there to answer (the tray outlives agent crashes). */
export type AgentLink = 'starting' | 'up' | 'restarting' | 'failed';

export interface TrayInput {
  readonly link: AgentLink;
  readonly status?: Status;
  /** From repositories.list: targets that missed writes. */
  readonly repositories?: readonly RepositoryInfo[];
  readonly now: number;
  readonly settings: { readonly openAtLogin: boolean; readonly notifyOnSuccess: boolean };
}

export type TrayAction = 'backup-now' | 'pause-hour' | 'pause-until-resumed' | 'resume' | 'open' | 'quit';

export type TraySetting = 'open-at-login' | 'notify-on-success';

export type TrayMenuItem =
  | { readonly kind: 'status'; readonly label: string }
  | { readonly kind: 'separator' }
  | { readonly kind: 'action'; readonly id: TrayAction; readonly label: string; readonly enabled: boolean }
  | { readonly kind: 'toggle'; readonly id: TraySetting; readonly label: string; readonly checked: boolean };

export interface TrayView {
  readonly state: TrayState;
  /** Names the image set in assets/tray/ (`<state>.png`, `<state>Template.png` on macOS). */
  readonly icon: TrayState;
  readonly tooltip: string;
  readonly menu: readonly TrayMenuItem[];
}

/**
 * What the tray shows for an agent status: one pure function, so every state
 * and its menu are tested without Electron. Errors win (something needs the
 * person), then paused (said plainly, so a forgotten pause is noticed), then
 * running, then a target behind; otherwise idle.
 */
export function trayView(input: TrayInput): TrayView {
  const { status } = input;
  const state = trayState(input);
  const line = statusLine(input, state);
  const up = input.link === 'up' && status !== undefined;
  const paused = status?.state === 'paused';
  const hasPlans = (status?.plans.length ?? 0) > 0;
  const menu: TrayMenuItem[] = [
    { kind: 'status', label: line },
    { kind: 'separator' },
    { kind: 'action', id: 'backup-now', label: 'Back up now', enabled: up && hasPlans && !paused },
    ...(paused
      ? [{ kind: 'action', id: 'resume', label: 'Resume', enabled: up } as const]
      : [
          { kind: 'action', id: 'pause-hour', label: 'Pause for 1 hour', enabled: up } as const,
          { kind: 'action', id: 'pause-until-resumed', label: 'Pause until resumed', enabled: up } as const,
        ]),
    { kind: 'separator' },
    { kind: 'toggle', id: 'open-at-login', label: 'Start at login', checked: input.settings.openAtLogin },
    { kind: 'toggle', id: 'notify-on-success', label: 'Notify after each backup', checked: input.settings.notifyOnSuccess },
    { kind: 'separator' },
    { kind: 'action', id: 'open', label: 'Open Hindsight', enabled: true },
    { kind: 'action', id: 'quit', label: 'Quit Hindsight', enabled: true },
  ];
  return { state, icon: state, tooltip: `Hindsight: ${line}`, menu };
}

function trayState({ link, status, repositories }: TrayInput): TrayState {
  if (link === 'failed' || link === 'restarting' || status?.state === 'error') return 'error';
  if (status?.state === 'paused') return 'paused';
  if (status?.state === 'running') return 'running';
  if (repositories?.some((r) => r.behind)) return 'behind';
  return 'idle';
}

function statusLine({ link, status, repositories, now }: TrayInput, state: TrayState): string {
  if (link === 'failed') return 'The backup agent stopped; quit and reopen Hindsight';
  if (link === 'restarting') return 'The backup agent stopped; restarting it';
  if (!status) return 'Starting';
  switch (state) {
    case 'error': {
      const failed = status.plans.find((p) => p.state === 'error');
      return failed ? `Last backup of ${failed.name} failed${failed.lastRun?.message ? `: ${failed.lastRun.message}` : ''}` : 'Last backup failed';
    }
    case 'paused':
      return status.pausedUntil === undefined || status.pausedUntil === 'resumed by hand'
        ? 'Paused until resumed'
        : `Paused for ${formatDuration(Math.max(0, Date.parse(status.pausedUntil) - now))} more`;
    case 'running': {
      const job = status.runningJobs[0];
      const plan = status.plans.find((p) => p.planId === job?.planId);
      const what = job === undefined ? 'Running' : job.kind === 'backup' && plan ? `Backing up ${plan.name}` : doing(job.kind);
      const progress = job?.progress;
      if (!progress) return what;
      if (progress.bytesTotal) return `${what}: ${Math.floor((100 * progress.bytesDone) / progress.bytesTotal)}%`;
      return `${what}: ${formatBytes(progress.bytesDone)}`;
    }
    case 'behind': {
      const behind = repositories?.filter((r) => r.behind).map((r) => r.location) ?? [];
      return `Target behind: ${behind.join(', ')} (a repair brings it level)`;
    }
    case 'idle': {
      if (status.plans.length === 0) return 'No backup plans yet';
      const last = status.plans
        .map((p) => p.lastRun)
        .filter((run) => run !== undefined && run.result === 'succeeded')
        .map((run) => Date.parse(run!.at))
        .sort((a, b) => b - a)[0];
      return last === undefined ? 'No backup yet' : `Up to date; last backup ${formatDuration(Math.max(0, now - last))} ago`;
    }
  }
}

/** What the tray shows now, as far as deciding a redraw needs. */
export interface TrayDrawn {
  readonly icon: TrayState;
  readonly tooltip: string;
  /** The menu without its status line: its items, their labels and states. */
  readonly menuShape: string;
  readonly statusLine: string;
  /** When the menu was last built. */
  readonly menuAt: number;
}

export interface TrayRedraw {
  readonly image: boolean;
  readonly tooltip: boolean;
  readonly menu: boolean;
  /** The status line is stale but was left for now: redraw at this time. */
  readonly again?: number;
}

/** How often at most the menu is rebuilt while only its status line (a backup's progress) changes. */
export const STATUS_LINE_EVERY_MS = 5000;

/**
 * Which parts of the tray to redraw for a new view. Setting the image redraws the icon even when it is
 * the same (on Linux it flickers), and a menu can only be replaced, not edited (replacing it closes it
 * if open): so the image changes with the state only, the menu at once when its items change and at
 * most every STATUS_LINE_EVERY_MS when only the progress line moves.
 */
export function trayRedraw(drawn: TrayDrawn | undefined, view: TrayView, now: number): TrayRedraw {
  const line = statusLineOf(view);
  if (!drawn) return { image: true, tooltip: true, menu: true };
  const image = view.icon !== drawn.icon;
  const lineChanged = line !== drawn.statusLine;
  const due = drawn.menuAt + STATUS_LINE_EVERY_MS;
  // A new state (running, paused, failed) is shown at once, in the menu as on the icon.
  const menu = image || menuShape(view) !== drawn.menuShape || (lineChanged && now >= due);
  return {
    image,
    // The tooltip carries the status line too: it follows the menu's pace (or a change of state).
    tooltip: view.tooltip !== drawn.tooltip && (menu || image),
    menu,
    ...(lineChanged && !menu ? { again: due } : {}),
  };
}

/** The TrayDrawn after drawing `view` with `redraw`'s decisions. */
export function afterRedraw(drawn: TrayDrawn | undefined, view: TrayView, redraw: TrayRedraw, now: number): TrayDrawn {
  return {
    icon: view.icon,
    tooltip: redraw.tooltip || !drawn ? view.tooltip : drawn.tooltip,
    menuShape: redraw.menu || !drawn ? menuShape(view) : drawn.menuShape,
    statusLine: redraw.menu || !drawn ? statusLineOf(view) : drawn.statusLine,
    menuAt: redraw.menu || !drawn ? now : drawn.menuAt,
  };
}

function statusLineOf(view: TrayView): string {
  const first = view.menu[0];
  return first?.kind === 'status' ? first.label : '';
}

function menuShape(view: TrayView): string {
  return JSON.stringify(view.menu.filter((item) => item.kind !== 'status'));
}
