import type { Progress, Warning } from '../../src-shared/progress.js';
import { formatBytes, formatDuration } from '../../src-shared/units.js';

/**
 * Shows progress on stderr: a live, rewritten line on a terminal; JSON lines
 * with --json (on stdout, for scripts); nothing otherwise. Warnings go the
 * same way: a JSON line, or a line on stderr below the progress line.
 */
export function progressReporter(json: boolean): {
  /** Whether progress is shown at all (a terminal, or --json): work done only for it can be skipped otherwise. */
  readonly visible: boolean;
  update(progress: Progress): void;
  warn(label: 'warning' | 'error', warning: Warning): void;
  done(): void;
} {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    visible: json || tty,
    update(progress) {
      if (json) {
        process.stdout.write(`${JSON.stringify({ type: 'progress', ...progress })}\n`);
        return;
      }
      if (!tty) return;
      const line = formatProgress(progress);
      const width = process.stderr.columns ?? 100;
      process.stderr.write(`\r\x1b[K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
      shown = true;
    },
    warn(label, warning) {
      if (json) {
        process.stdout.write(`${JSON.stringify({ type: label === 'warning' ? 'warning' : 'problem', ...warning })}\n`);
        return;
      }
      this.done();
      console.error(`${label}: ${warning.path}: ${warning.message}`);
    },
    done() {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

export function formatProgress(p: Progress): string {
  const files = p.filesTotal !== undefined ? `${p.filesDone}/${p.filesTotal} files` : `${p.filesDone} files`;
  const bytes = p.bytesTotal !== undefined ? `${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}` : formatBytes(p.bytesDone);
  const percent = p.bytesTotal ? ` ${Math.min(100, (100 * p.bytesDone) / p.bytesTotal).toFixed(0)}%` : '';
  const eta = p.etaSeconds !== undefined ? ` ETA ${formatDuration(p.etaSeconds * 1000)}` : '';
  const current = p.currentPath ? `  ${p.currentPath}` : '';
  return `[${formatDuration(p.elapsedMs)}]${percent} ${files}, ${bytes}, ${formatBytes(p.bytesPerSecond)}/s${eta}${current}`;
}
