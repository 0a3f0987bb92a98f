import { useCallback, useState } from 'react';
import type { TargetSettings } from '../../../src-shared/plan.js';
import { ExcludesField, RetentionField, ScheduleField, SourcesField, newPlanDraft, planInput, type PlanDraft } from '../components/PlanForm.js';
import { LocationFields } from '../components/LocationFields.js';
import { PasswordField } from '../components/PasswordField.js';
import { ErrorMessage } from '../components/States.js';
import { useApp } from '../store/appContext.js';

type Step = 'where' | 'what' | 'when';
const STEPS: readonly [Step, string][] = [
  ['where', 'Where backups go'],
  ['what', 'What to back up'],
  ['when', 'When, and for how long'],
];

/** First run (and "new plan" later): a repository, folders, a schedule. */
export function Setup({ firstRun }: { firstRun: boolean }) {
  const client = useApp((s) => s.connection.client);
  const refresh = useApp((s) => s.refresh);
  const navigate = useApp((s) => s.navigate);
  const notify = useApp((s) => s.notify);
  const repositories = useApp((s) => s.repositories);
  const [step, setStep] = useState<Step>('where');
  const [mode, setMode] = useState<'new' | 'existing' | 'known'>(repositories.length > 0 ? 'known' : 'new');
  const [known, setKnown] = useState(repositories[0]?.location ?? '');
  const [location, setLocation] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [remember, setRemember] = useState(true);
  const [draft, setDraft] = useState<PlanDraft>(newPlanDraft);
  const [backUpNow, setBackUpNow] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [settings, setSettings] = useState<TargetSettings>();
  const onLocation = useCallback((l: string, s?: TargetSettings) => {
    setLocation(l);
    setSettings(s);
  }, []);

  const whereProblem =
    mode === 'known'
      ? !known && 'Choose a repository.'
      : !location
        ? 'Say where the backups go.'
        : !password
          ? 'Enter the repository password.'
          : mode === 'new' && password.length < 8
            ? 'Use a password of at least 8 characters.'
            : mode === 'new' && password !== confirm && 'The two passwords differ.';
  const whatProblem = !draft.name.trim() ? 'Give the plan a name.' : draft.sources.length === 0 && 'Add at least one folder.';

  const finish = async () => {
    setBusy(true);
    setError(undefined);
    try {
      let target = known;
      if (mode !== 'known') {
        const repo = await client.call(mode === 'new' ? 'repositories.create' : 'repositories.connect', { location, password, remember, ...(settings ? { settings } : {}) });
        target = repo.location;
      }
      const plan = await client.call('plans.create', planInput(draft, [target]));
      if (backUpNow) await client.call('jobs.backup', { planId: plan.id });
      await refresh();
      notify('success', backUpNow ? `Plan "${plan.name}" created; the first backup has started.` : `Plan "${plan.name}" created.`);
      navigate('dashboard');
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const index = STEPS.findIndex(([s]) => s === step);
  return (
    <div className={`setup${firstRun ? ' first-run' : ''}`}>
      {firstRun && (
        <header className="setup-hero">
          <img src="./favicon.svg" alt="" width={56} height={56} />
          <div>
            <h1>Welcome to Hindsight</h1>
            <p>Three steps, and your files are backed up — deduplicated, compressed and encrypted — from then on.</p>
          </div>
        </header>
      )}
      <ol className="stepper" aria-label="Steps">
        {STEPS.map(([s, label], i) => (
          <li key={s} className={i === index ? 'current' : i < index ? 'done' : ''} aria-current={i === index ? 'step' : undefined}>
            <span className="step-number">{i + 1}</span>
            {label}
          </li>
        ))}
      </ol>
      <section className="card setup-card">
        {step === 'where' && (
          <>
            <div className="segmented" role="radiogroup" aria-label="Repository">
              {repositories.length > 0 && (
                <button type="button" role="radio" aria-checked={mode === 'known'} className={mode === 'known' ? 'on' : ''} onClick={() => setMode('known')}>
                  A repository I use
                </button>
              )}
              <button type="button" role="radio" aria-checked={mode === 'new'} className={mode === 'new' ? 'on' : ''} onClick={() => setMode('new')}>
                Create a new repository
              </button>
              <button type="button" role="radio" aria-checked={mode === 'existing'} className={mode === 'existing' ? 'on' : ''} onClick={() => setMode('existing')}>
                Connect to an existing one
              </button>
            </div>
            {mode === 'known' ? (
              <div className="field">
                <label htmlFor="known-repo">Repository</label>
                <select id="known-repo" value={known} onChange={(e) => setKnown(e.target.value)}>
                  {repositories.map((r) => (
                    <option key={r.location} value={r.location}>
                      {r.location}
                    </option>
                  ))}
                </select>
              </div>
            ) : (
              <>
                <LocationFields onChange={onLocation} />
                <PasswordField label="Repository password" value={password} onChange={setPassword} showStrength={mode === 'new'} autoComplete={mode === 'new' ? 'new-password' : 'current-password'} />
                {mode === 'new' && <PasswordField label="Repeat the password" value={confirm} onChange={setConfirm} />}
                <label className="checkbox">
                  <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
                  Remember the password in the system keychain (needed for scheduled backups)
                </label>
                {mode === 'new' && <p className="hint">Without this password nobody — not even you — can read the backups. Keep a copy somewhere safe.</p>}
              </>
            )}
          </>
        )}
        {step === 'what' && (
          <>
            <div className="field">
              <label htmlFor="plan-name">Name of this backup plan</label>
              <input id="plan-name" type="text" value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
            </div>
            <SourcesField draft={draft} onChange={setDraft} />
            <ExcludesField draft={draft} onChange={setDraft} />
          </>
        )}
        {step === 'when' && (
          <>
            <ScheduleField draft={draft} onChange={setDraft} />
            <RetentionField draft={draft} onChange={setDraft} />
            <label className="checkbox">
              <input type="checkbox" checked={backUpNow} onChange={(e) => setBackUpNow(e.target.checked)} />
              Start the first backup now
            </label>
          </>
        )}
        {error && <ErrorMessage>{error}</ErrorMessage>}
        <footer className="setup-footer">
          {index > 0 && (
            <button type="button" className="button" onClick={() => setStep(STEPS[index - 1]![0])}>
              Back
            </button>
          )}
          {!firstRun && index === 0 && (
            <button type="button" className="button" onClick={() => navigate('settings')}>
              Cancel
            </button>
          )}
          <span className="spacer" />
          {(step === 'where' ? whereProblem : step === 'what' ? whatProblem : false) && <span className="muted">{step === 'where' ? whereProblem : whatProblem}</span>}
          {step !== 'when' ? (
            <button type="button" className="button primary" disabled={Boolean(step === 'where' ? whereProblem : whatProblem)} onClick={() => setStep(STEPS[index + 1]![0])}>
              Continue
            </button>
          ) : (
            <button type="button" className="button primary" disabled={busy} onClick={() => void finish()}>
              {busy ? 'Creating…' : mode === 'new' ? 'Create repository and plan' : 'Create plan'}
            </button>
          )}
        </footer>
      </section>
    </div>
  );
}
