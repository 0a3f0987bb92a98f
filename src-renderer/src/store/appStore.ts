import { create } from 'zustand';
import type { AgentEvent, JobRecord, RepositoryInfo, Settings, SnapshotInfo, Status } from '../../../src-shared/api.js';
import type { Plan } from '../../../src-shared/plan.js';
import type { Progress } from '../../../src-shared/progress.js';
import type { Connection } from '../api/connection.js';
import type { ConnectionState } from '../api/webSocketClient.js';
import { capitalise } from '../format.js';
import { parseRoute, routeHash, type Route, type Screen } from './route.js';

export interface Notice {
  readonly id: number;
  readonly kind: 'error' | 'warning' | 'success';
  readonly text: string;
}

export interface AppState {
  readonly connection: Connection;
  readonly connectionState: ConnectionState;
  /** Undefined until the first answer from the agent. */
  readonly status?: Status;
  readonly plans: readonly Plan[];
  readonly repositories: readonly RepositoryInfo[];
  readonly jobs: readonly JobRecord[];
  readonly settings?: Settings;
  /** Live progress of running jobs, by job id. */
  readonly progress: Readonly<Record<string, Progress>>;
  /** Snapshots by repository location, newest last; absent until loaded. */
  readonly snapshots: Readonly<Record<string, readonly SnapshotInfo[]>>;
  readonly loadError?: string;
  readonly notices: readonly Notice[];
  readonly route: Route;
  readonly passwordNeeded?: string;

  navigate(screen: Screen, params?: Record<string, string>): void;
  refresh(): Promise<void>;
  loadSnapshots(repository: string): Promise<readonly SnapshotInfo[]>;
  notify(kind: Notice['kind'], text: string): void;
  dismiss(id: number): void;
  /** Gives the agent the password it asked for (password.needed); throws the agent's error (a wrong password). */
  unlock(location: string, password: string, remember: boolean): Promise<void>;
  /** Runs an action, turning its error into a notice; resolves to undefined when it failed. */
  attempt<T>(action: () => Promise<T>, success?: string): Promise<T | undefined>;
}

let noticeId = 1;

export function createAppStore(connection: Connection) {
  const { client } = connection;
  const store = create<AppState>()((set, get) => ({
    connection,
    connectionState: 'connecting',
    plans: [],
    repositories: [],
    jobs: [],
    progress: {},
    snapshots: {},
    notices: [],
    route: parseRoute(location.hash),

    navigate(screen, params = {}) {
      const route = { screen, params };
      const hash = routeHash(route);
      if (location.hash !== hash) history.pushState(null, '', hash);
      set({ route });
    },

    async unlock(location, password, remember) {
      await client.call('repositories.connect', { location, password, remember });
      set({ passwordNeeded: undefined });
      get().notify('success', `Unlocked ${location}${remember ? '; the password is in the system keychain' : ''}.`);
      await get().refresh();
    },

    async refresh() {
      try {
        const [status, plans, repositories, jobs, settings] = await Promise.all([
          client.call('status.get', {}),
          client.call('plans.list', {}),
          client.call('repositories.list', {}),
          client.call('jobs.list', { limit: 200 }),
          client.call('settings.get', {}),
        ]);
        set({ status, plans, repositories, jobs, settings, loadError: undefined });
      } catch (err) {
        set({ loadError: (err as Error).message });
      }
    },

    async loadSnapshots(repository) {
      const list = await client.call('snapshots.list', { repository });
      const sorted = [...list].sort((a, b) => a.time.localeCompare(b.time));
      set({ snapshots: { ...get().snapshots, [repository]: sorted } });
      return sorted;
    },

    notify(kind, text) {
      const notice = { id: noticeId++, kind, text };
      set({ notices: [...get().notices.slice(-4), notice] });
      if (kind === 'success') setTimeout(() => get().dismiss(notice.id), 6000);
    },

    dismiss(id) {
      set({ notices: get().notices.filter((n) => n.id !== id) });
    },

    async attempt(action, success) {
      try {
        const result = await action();
        if (success) get().notify('success', success);
        return result;
      } catch (err) {
        get().notify('error', (err as Error).message);
        return undefined;
      }
    },
  }));

  const upsertJob = (job: JobRecord) => {
    const jobs = store.getState().jobs.filter((j) => j.id !== job.id);
    store.setState({ jobs: [job, ...jobs].sort((a, b) => b.startedAt.localeCompare(a.startedAt)) });
  };

  client.onEvent((event: AgentEvent) => {
    const state = store.getState();
    switch (event.type) {
      case 'status':
        store.setState({ status: event.status });
        break;
      case 'job.started':
        upsertJob(event.job);
        break;
      case 'job.progress':
        store.setState({ progress: { ...state.progress, [event.jobId]: event.progress } });
        break;
      case 'job.finished': {
        upsertJob(event.job);
        const { [event.job.id]: _done, ...rest } = state.progress;
        store.setState({ progress: rest });
        if (event.job.result === 'failed') state.notify('error', `${capitalise(event.job.kind)} failed: ${event.job.message ?? 'no reason given'}`);
        void state.refresh();
        // A finished backup adds a snapshot to every repository screen that shows one.
        if (event.job.kind === 'backup' || event.job.kind === 'prune') for (const repository of Object.keys(state.snapshots)) void state.loadSnapshots(repository).catch(() => undefined);
        break;
      }
      case 'target.status':
        store.setState({ repositories: state.repositories.map((r) => (r.location === event.target.location ? event.target : r)) });
        break;
      case 'error':
        state.notify('error', event.message);
        break;
      case 'password.needed':
        store.setState({ passwordNeeded: event.repository });
        break;
      case 'warning':
        break;
    }
  });

  connection.onConnection((connectionState) => {
    store.setState({ connectionState });
    if (connectionState === 'open') void store.getState().refresh();
  });
  window.addEventListener('popstate', () => store.setState({ route: parseRoute(location.hash) }));
  return store;
}

export type AppStore = ReturnType<typeof createAppStore>;
