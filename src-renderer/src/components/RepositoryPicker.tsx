import { useEffect } from 'react';
import { useApp } from '../store/appContext.js';

/** Which repository a screen shows; defaults to the first plan's first target. */
export function useChosenRepository(): string | undefined {
  const route = useApp((s) => s.route);
  const plans = useApp((s) => s.plans);
  const repositories = useApp((s) => s.repositories);
  return route.params.repo || plans[0]?.targets[0] || repositories[0]?.location;
}

export function RepositoryPicker({ value }: { value: string | undefined }) {
  const repositories = useApp((s) => s.repositories);
  const route = useApp((s) => s.route);
  const navigate = useApp((s) => s.navigate);
  if (repositories.length <= 1) return value ? <span className="mono muted repo-name">{value}</span> : null;
  return (
    <select aria-label="Repository" value={value} onChange={(e) => navigate(route.screen, { repo: e.target.value })}>
      {repositories.map((r) => (
        <option key={r.location} value={r.location}>
          {r.location}
        </option>
      ))}
    </select>
  );
}

/** Loads a repository's snapshots once per screen visit; they are refreshed by the store when a backup finishes. */
export function useSnapshots(repository: string | undefined) {
  const snapshots = useApp((s) => (repository ? s.snapshots[repository] : undefined));
  const loadSnapshots = useApp((s) => s.loadSnapshots);
  const notify = useApp((s) => s.notify);
  useEffect(() => {
    if (repository) loadSnapshots(repository).catch((err: Error) => notify('error', err.message));
  }, [repository, loadSnapshots, notify]);
  return snapshots;
}
