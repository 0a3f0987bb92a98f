/** One progress report of a long operation; the CLI line, the UI and logs all read this shape. */
export interface Progress {
  readonly operation: 'backup' | 'restore' | 'check' | 'prune';
  readonly phase: string;
  readonly filesDone: number;
  /** Undefined while the total is still being counted. */
  readonly filesTotal?: number;
  readonly bytesDone: number;
  readonly bytesTotal?: number;
  readonly currentPath?: string;
  readonly bytesPerSecond: number;
  readonly etaSeconds?: number;
  readonly elapsedMs: number;
}

export interface Warning {
  readonly path: string;
  readonly message: string;
}
