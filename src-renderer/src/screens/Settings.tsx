import { useState } from 'react';
import type { RepositoryInfo } from '../../../src-shared/api.js';
import { describePlanSources, type Plan, type TargetSettings } from '../../../src-shared/plan.js';
import { ExcludesField, RetentionField, ScheduleField, SourcesField, TargetsField, planInput, shownLocation, type PlanDraft } from '../components/PlanForm.js';
import { Modal } from '../components/Modal.js';
import { PasswordField } from '../components/PasswordField.js';
import { ErrorMessage } from '../components/States.js';
import { formatRelative } from '../format.js';
import { useApp } from '../store/appContext.js';

export function Settings() {
  const plans = useApp((s) => s.plans);
  const repositories = useApp((s) => s.repositories);
  const navigate = useApp((s) => s.navigate);
  return (
    <div className="settings">
      <section className="card">
        <header className="row">
          <h2>Backup plans</h2>
          <span className="spacer" />
          <button type="button" className="button primary" onClick={() => navigate('setup')}>
            New plan
          </button>
        </header>
        {plans.length === 0 && <p className="muted">No plans yet.</p>}
        {plans.map((plan) => (
          <PlanSettings key={plan.id} plan={plan} />
        ))}
      </section>
      <section className="card">
        <h2>Repositories</h2>
        <p className="muted small">Passwords you chose to remember are kept in the system keychain (GNOME Keyring, macOS Keychain, Windows Credential Manager), never in a file.</p>
        <table className="table">
          <tbody>
            {repositories.map((r) => (
              <RepositorySettings key={r.location} repository={r} />
            ))}
          </tbody>
        </table>
      </section>
      <AgentSettings />
    </div>
  );
}

function draftOf(plan: Plan): PlanDraft {
  return {
    name: plan.name,
    sources: [...plan.sources],
    excludes: plan.excludes.join('\n'),
    schedule: plan.schedule,
    retention: plan.retention ?? {},
    pruneEveryDays: plan.pruneEveryDays,
    enabled: plan.enabled,
  };
}

function PlanSettings({ plan }: { plan: Plan }) {
  const client = useApp((s) => s.connection.client);
  const attempt = useApp((s) => s.attempt);
  const refresh = useApp((s) => s.refresh);
  const [draft, setDraft] = useState<PlanDraft>();
  const [targets, setTargets] = useState<string[]>([...plan.targets]);
  // Settings of the targets added in this edit (the kept ones stay with their targets in the agent).
  const [targetSettings, setTargetSettings] = useState<Record<string, TargetSettings>>({});
  const [confirmDelete, setConfirmDelete] = useState(false);
  const edit = () => {
    setDraft(draftOf(plan));
    setTargets([...plan.targets]);
    setTargetSettings({});
  };
  const save = async () => {
    if (!draft) return;
    const changes = planInput(draft, targets);
    const added = targets.filter((t) => !plan.targets.includes(t)).map(shownLocation);
    const message = added.length > 0 ? `Plan "${draft.name}" saved. ${added.join(', ')} gets a complete copy of the backups first, then joins the plan.` : `Plan "${draft.name}" saved.`;
    const given = Object.keys(targetSettings).length > 0 ? { targetSettings } : {};
    const saved = await attempt(() => client.call('plans.update', { id: plan.id, changes: { ...changes, ...given, retention: changes.retention ?? {} } }), message);
    if (saved) {
      setDraft(undefined);
      await refresh();
    }
  };
  return (
    <div className="plan-settings">
      <div className="row">
        <div>
          <strong>{plan.name}</strong>
          {!plan.enabled && <span className="muted"> (switched off)</span>}
          <div className="muted small mono">
            {describePlanSources(plan)} → {plan.targets.join(', ')}
          </div>
        </div>
        <span className="spacer" />
        {!draft && (
          <button type="button" className="button" onClick={edit}>
            Edit
          </button>
        )}
      </div>
      {draft && (
        <div className="plan-editor">
          <div className="field">
            <label htmlFor={`name-${plan.id}`}>Name</label>
            <input id={`name-${plan.id}`} type="text" value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
          </div>
          <SourcesField draft={draft} onChange={setDraft} />
          <TargetsField
            targets={targets}
            settings={targetSettings}
            onChange={(changed, settings) => {
              setTargets(changed);
              setTargetSettings(settings);
            }}
          />
          <ExcludesField draft={draft} onChange={setDraft} />
          <ScheduleField draft={draft} onChange={setDraft} />
          <RetentionField draft={draft} onChange={setDraft} />
          <label className="checkbox">
            <input type="checkbox" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.target.checked })} />
            Run this plan on its schedule
          </label>
          <footer className="row">
            <button type="button" className="button danger" onClick={() => setConfirmDelete(true)}>
              Delete plan
            </button>
            <span className="spacer" />
            <button type="button" className="button" onClick={() => setDraft(undefined)}>
              Cancel
            </button>
            <button type="button" className="button primary" disabled={!draft.name.trim() || (draft.sources.length === 0 && !plan.command)} onClick={() => void save()}>
              Save
            </button>
          </footer>
        </div>
      )}
      {confirmDelete && (
        <Modal
          title={`Delete plan "${plan.name}"?`}
          onClose={() => setConfirmDelete(false)}
          footer={
            <>
              <button type="button" className="button" onClick={() => setConfirmDelete(false)}>
                Keep it
              </button>
              <button
                type="button"
                className="button danger"
                onClick={() =>
                  void attempt(() => client.call('plans.delete', { id: plan.id }), `Plan "${plan.name}" deleted.`).then(() => {
                    setConfirmDelete(false);
                    void refresh();
                  })
                }
              >
                Delete plan
              </button>
            </>
          }
        >
          <p>The plan stops running. Its snapshots stay in the repository and can still be browsed and restored.</p>
        </Modal>
      )}
    </div>
  );
}

function RepositorySettings({ repository }: { repository: RepositoryInfo }) {
  const client = useApp((s) => s.connection.client);
  const attempt = useApp((s) => s.attempt);
  const refresh = useApp((s) => s.refresh);
  const [unlocking, setUnlocking] = useState(false);
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(true);
  const [error, setError] = useState<string>();
  const unlock = async () => {
    try {
      await client.call('repositories.connect', { location: repository.location, password, remember });
      setUnlocking(false);
      setPassword('');
      await refresh();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <tr>
      <td className="mono">{repository.location}</td>
      <td>{repository.unlocked ? 'Unlocked' : 'Password needed'}</td>
      <td>{repository.lastSuccess ? `Last success ${formatRelative(repository.lastSuccess)}` : ''}</td>
      <td className="right nowrap">
        {!repository.unlocked && (
          <button type="button" className="button small primary" onClick={() => setUnlocking(true)}>
            Enter password
          </button>
        )}
        <button type="button" className="button small" onClick={() => void attempt(() => client.call('jobs.check', { repository: repository.location, readData: false }), 'Check started.')}>
          Check
        </button>
        <button type="button" className="button small" onClick={() => void attempt(() => client.call('jobs.prune', { repository: repository.location }), 'Prune started.')}>
          Prune
        </button>
        {unlocking && (
          <Modal
            title="Repository password"
            onClose={() => setUnlocking(false)}
            footer={
              <button type="button" className="button primary" disabled={!password} onClick={() => void unlock()}>
                Unlock
              </button>
            }
          >
            <p className="mono small">{repository.location}</p>
            <PasswordField label="Password" value={password} onChange={setPassword} autoComplete="current-password" />
            <label className="checkbox">
              <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
              Remember it in the system keychain
            </label>
            {error && <ErrorMessage>{error}</ErrorMessage>}
          </Modal>
        )}
      </td>
    </tr>
  );
}

function AgentSettings() {
  const settings = useApp((s) => s.settings);
  const client = useApp((s) => s.connection.client);
  const attempt = useApp((s) => s.attempt);
  const refresh = useApp((s) => s.refresh);
  if (!settings) return null;
  const update = (change: Parameters<typeof client.call<'settings.update'>>[1]) => void attempt(() => client.call('settings.update', change)).then(() => refresh());
  return (
    <section className="card">
      <h2>Agent</h2>
      <div className="field inline">
        <label htmlFor="max-jobs">Jobs at the same time</label>
        <input id="max-jobs" type="number" min={1} max={16} value={settings.maxConcurrentJobs} onChange={(e) => update({ maxConcurrentJobs: Math.min(16, Math.max(1, Number(e.target.value) || 1)) })} />
      </div>
      <div className="field inline">
        <label htmlFor="upload-limit">Upload limit (KiB/s, 0 for none)</label>
        <input id="upload-limit" type="number" min={0} defaultValue={settings.uploadLimitKiBps} onBlur={(e) => update({ uploadLimitKiBps: Math.max(0, Math.floor(Number(e.target.value) || 0)) })} />
      </div>
      <label className="checkbox">
        <input type="checkbox" checked={settings.deferOnBattery} onChange={(e) => update({ deferOnBattery: e.target.checked })} />
        Wait for mains power before scheduled backups
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={settings.deferOnMetered} onChange={(e) => update({ deferOnMetered: e.target.checked })} />
        Wait for an unmetered network before scheduled backups
      </label>
    </section>
  );
}
