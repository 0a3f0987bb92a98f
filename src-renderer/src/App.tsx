import { useState, type ReactNode } from 'react';
import { PasswordField } from './components/PasswordField.js';
import { StateBadge } from './components/StateBadge.js';
import { ErrorMessage, Loading } from './components/States.js';
import { activityOf } from '../../src-shared/jobActivity.js';
import { formatDateTime } from './format.js';
import { Browser } from './screens/Browser.js';
import { Dashboard } from './screens/Dashboard.js';
import { History } from './screens/History.js';
import { Settings } from './screens/Settings.js';
import { Setup } from './screens/Setup.js';
import { Timeline } from './screens/Timeline.js';
import { useApp } from './store/appContext.js';
import type { Screen } from './store/route.js';

const NAV: readonly [Screen, string][] = [
  ['dashboard', 'Dashboard'],
  ['timeline', 'Timeline'],
  ['browse', 'Browse'],
  ['history', 'History'],
  ['settings', 'Settings'],
];

const TITLES: Record<Screen, string> = { dashboard: 'Dashboard', timeline: 'Timeline', browse: 'Browse snapshots', history: 'History', settings: 'Settings', setup: 'New backup plan' };

export function App() {
  const status = useApp((s) => s.status);
  const plans = useApp((s) => s.plans);
  const route = useApp((s) => s.route);
  const connectionState = useApp((s) => s.connectionState);
  const loadError = useApp((s) => s.loadError);
  const refresh = useApp((s) => s.refresh);

  if (!status) {
    return <div className="boot">{loadError ? <ErrorMessage onRetry={() => void refresh()}>{loadError}</ErrorMessage> : <Loading what="Hindsight" />}</div>;
  }
  // First run: nothing to show until there is a plan, so the setup is the whole window.
  if (plans.length === 0 && (route.screen === 'dashboard' || route.screen === 'setup')) {
    return (
      <Frame>
        <Setup firstRun />
      </Frame>
    );
  }
  return (
    <div className="app">
      <Sidebar />
      <main className="content">
        {connectionState === 'closed' && <div className="banner">The connection to Hindsight was lost. Reconnecting…</div>}
        <header className="page-header">
          <h1>{TITLES[route.screen]}</h1>
        </header>
        {route.screen === 'dashboard' && <Dashboard />}
        {route.screen === 'timeline' && <Timeline />}
        {route.screen === 'browse' && <Browser />}
        {route.screen === 'history' && <History />}
        {route.screen === 'settings' && <Settings />}
        {route.screen === 'setup' && <Setup firstRun={false} />}
      </main>
      <Notices />
    </div>
  );
}

function Frame({ children }: { children: ReactNode }) {
  return (
    <div className="frame">
      {children}
      <Notices />
    </div>
  );
}

function Sidebar() {
  const route = useApp((s) => s.route);
  const navigate = useApp((s) => s.navigate);
  const status = useApp((s) => s.status)!;
  const client = useApp((s) => s.connection.client);
  const attempt = useApp((s) => s.attempt);
  const paused = status.pausedUntil !== undefined;
  return (
    <nav className="sidebar" aria-label="Main">
      <div className="brand">
        <img src="./favicon.svg" alt="" width={32} height={32} />
        <span>Hindsight</span>
      </div>
      <ul>
        {NAV.map(([screen, label]) => (
          <li key={screen}>
            <a
              href={`#/${screen}`}
              className={route.screen === screen ? 'active' : ''}
              aria-current={route.screen === screen ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                navigate(screen);
              }}
            >
              <span className={`nav-icon nav-${screen}`} aria-hidden="true" />
              {label}
            </a>
          </li>
        ))}
      </ul>
      <div className="sidebar-status">
        <StateBadge state={status.state} label={status.state === 'running' ? activityOf(status.runningJobs) : undefined} />
        {paused && <div className="small">{status.pausedUntil === 'resumed by hand' ? 'Until you resume' : `Until ${formatDateTime(status.pausedUntil!)}`}</div>}
        {status.hints.length > 0 && <div className="small muted">{status.hints.join(', ')}</div>}
        {paused ? (
          <button type="button" className="button small primary" onClick={() => void attempt(() => client.call('agent.resume', {}))}>
            Resume all
          </button>
        ) : (
          <button type="button" className="button small" onClick={() => void attempt(() => client.call('agent.pause', {}), 'All backups are paused until you resume them.')}>
            Pause all
          </button>
        )}
      </div>
    </nav>
  );
}

function Notices() {
  const notices = useApp((s) => s.notices);
  const dismiss = useApp((s) => s.dismiss);
  const passwordNeeded = useApp((s) => s.passwordNeeded);
  return (
    <div className="notices" aria-live="polite">
      {passwordNeeded && <PasswordNotice key={passwordNeeded} repository={passwordNeeded} />}
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'}>
          <span>{n.text}</span>
          <button type="button" className="notice-close" aria-label="Dismiss" onClick={() => dismiss(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

/** The agent needs a repository's password: asked for right here, not on another screen. */
function PasswordNotice({ repository }: { repository: string }) {
  const unlock = useApp((s) => s.unlock);
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(true);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // A replicated repository is named by all its targets; any one of them opens it.
  const location = repository.split(', ')[0] ?? repository;
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await unlock(location, password, remember);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <form
      className="notice notice-warning password-notice"
      aria-label="Password needed"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <span>
        Hindsight needs the password of <span className="mono">{repository}</span> to go on.
      </span>
      <PasswordField label="Repository password" value={password} onChange={setPassword} autoComplete="current-password" />
      <label className="checkbox">
        <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
        Keep it in the system keychain
      </label>
      <button type="submit" className="button small primary" disabled={!password || busy}>
        Unlock
      </button>
      {error && (
        <span className="error-text" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
