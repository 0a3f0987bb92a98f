import { useMemo, useState } from 'react';
import type { SnapshotInfo } from '../../../src-shared/api.js';
import { DrivePanel, OpenDriveButton, useDrive } from '../components/DriveAccess.js';
import { RepositoryPicker, useChosenRepository, useSnapshots } from '../components/RepositoryPicker.js';
import { EmptyState, Loading } from '../components/States.js';
import { formatBytes, formatDateTime } from '../format.js';
import { useApp } from '../store/appContext.js';

type Zoom = 'day' | 'week' | 'month' | 'year';
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const SPANS: Record<Zoom, number> = { day: DAY, week: 7 * DAY, month: 30 * DAY, year: 365 * DAY };
const TICKS: Record<Zoom, number> = { day: 3 * HOUR, week: DAY, month: 5 * DAY, year: 30 * DAY };
const WIDTH = 1000;
const HEIGHT = 200;
const AXIS = 28;
/** The window ends this long after now, so the newest snapshot is not drawn on the edge. */
const LEAD = HOUR / 4;

export function Timeline() {
  const repository = useChosenRepository();
  const snapshots = useSnapshots(repository);
  const navigate = useApp((s) => s.navigate);
  const [zoom, setZoom] = useState<Zoom>('week');
  const [end, setEnd] = useState(() => Date.now() + LEAD);
  const span = SPANS[zoom];
  const start = end - span;
  const visible = useMemo(() => (snapshots ?? []).filter((s) => Date.parse(s.time) >= start && Date.parse(s.time) <= end), [snapshots, start, end]);
  const open = (s: SnapshotInfo) => navigate('browse', { repo: repository ?? '', snapshot: s.id });
  const drive = useDrive();

  if (!repository) return <EmptyState title="No repository yet">Set up a backup first; its snapshots appear here.</EmptyState>;
  return (
    <div className="timeline">
      <div className="toolbar">
        <RepositoryPicker value={repository} />
        <span className="spacer" />
        <div className="segmented" role="radiogroup" aria-label="Zoom">
          {(Object.keys(SPANS) as Zoom[]).map((z) => (
            <button key={z} type="button" role="radio" aria-checked={zoom === z} className={zoom === z ? 'on' : ''} onClick={() => setZoom(z)}>
              {z[0]!.toUpperCase() + z.slice(1)}
            </button>
          ))}
        </div>
        <button type="button" className="button" aria-label="Earlier" onClick={() => setEnd(end - span / 2)}>
          ‹
        </button>
        <button type="button" className="button" onClick={() => setEnd(Date.now() + LEAD)}>
          Now
        </button>
        <button type="button" className="button" aria-label="Later" onClick={() => setEnd(Math.min(Date.now() + LEAD, end + span / 2))}>
          ›
        </button>
      </div>
      {!snapshots ? (
        <Loading what="snapshots" />
      ) : snapshots.length === 0 ? (
        <EmptyState title="No snapshots yet">Each backup adds a snapshot: a complete picture of your folders at that moment.</EmptyState>
      ) : (
        <>
          <section className="card chart-card">
            <h2>
              {visible.length} snapshot{visible.length === 1 ? '' : 's'} · {formatBytes(visible.reduce((n, s) => n + (s.bytesAdded ?? 0), 0))} added
            </h2>
            <TimeChart snapshots={visible} start={start} end={end} zoom={zoom} onOpen={open} />
            {visible.length === 0 && (
              <p className="muted center">
                Nothing in this period.{' '}
                <button type="button" className="link-button" onClick={() => setEnd(Math.min(Date.now(), Date.parse(snapshots[snapshots.length - 1]!.time) + span / 10))}>
                  Go to the latest snapshot
                </button>
              </p>
            )}
          </section>
          <DrivePanel state={drive.state} onClose={drive.close} />
          <section className="card">
            <table className="table snapshot-table">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>Type</th>
                  <th>Files</th>
                  <th>Size</th>
                  <th>Added</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {[...visible].reverse().map((s) => (
                  <tr key={s.id} data-snapshot={s.id}>
                    <td>{formatDateTime(s.time)}</td>
                    <td>{s.type}</td>
                    <td>{s.totalFiles?.toLocaleString() ?? '—'}</td>
                    <td>{s.totalBytes !== undefined ? formatBytes(s.totalBytes) : '—'}</td>
                    <td>{s.bytesAdded !== undefined ? formatBytes(s.bytesAdded) : '—'}</td>
                    <td className="right">
                      <OpenDriveButton small state={drive.state} snapshot={s.id} onOpen={() => drive.open(repository, s.id)} />{' '}
                      <button type="button" className="button small" onClick={() => open(s)}>
                        Browse
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
    </div>
  );
}

function tickLabel(time: number, zoom: Zoom): string {
  const d = new Date(time);
  if (zoom === 'day') return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (zoom === 'year') return d.toLocaleDateString(undefined, { month: 'short', year: '2-digit' });
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

function TimeChart({ snapshots, start, end, zoom, onOpen }: { snapshots: readonly SnapshotInfo[]; start: number; end: number; zoom: Zoom; onOpen: (s: SnapshotInfo) => void }) {
  const x = (t: number) => ((t - start) / (end - start)) * WIDTH;
  const max = Math.max(1, ...snapshots.map((s) => s.bytesAdded ?? 0));
  const plot = HEIGHT - AXIS;
  // Square root: a snapshot that added a few kilobytes stays visible beside one that added gigabytes.
  const barHeight = (bytes: number) => 4 + Math.sqrt(bytes / max) * (plot - 12);
  const step = TICKS[zoom];
  const ticks: number[] = [];
  const offset = new Date(start).getTimezoneOffset() * 60_000;
  for (let t = Math.ceil((start - offset) / step) * step + offset; t <= end; t += step) ticks.push(t);
  return (
    <svg className="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="Bytes added per snapshot over time">
      {ticks.map((t) => (
        <g key={t} className="tick">
          <line x1={x(t)} x2={x(t)} y1={0} y2={plot} />
          <text x={x(t) + 3} y={HEIGHT - 9}>
            {tickLabel(t, zoom)}
          </text>
        </g>
      ))}
      <line className="axis" x1={0} x2={WIDTH} y1={plot} y2={plot} />
      {snapshots.map((s) => {
        const h = barHeight(s.bytesAdded ?? 0);
        const label = `${formatDateTime(s.time)}: ${formatBytes(s.bytesAdded ?? 0)} added`;
        return (
          <g
            key={s.id}
            className="bar"
            role="button"
            tabIndex={0}
            aria-label={`Open snapshot of ${label}`}
            onClick={() => onOpen(s)}
            onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && onOpen(s)}
          >
            <title>{label}</title>
            <rect x={x(Date.parse(s.time)) - 4} y={plot - h} width={8} height={h} rx={2} />
          </g>
        );
      })}
    </svg>
  );
}
