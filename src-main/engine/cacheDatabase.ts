import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** How long an open waits for another process's lock on the database, as better-sqlite3's own busy timeout. */
const BUSY_WAIT_MS = 5000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let nativeBinding: string | undefined;

/**
 * Loads better-sqlite3's addon from `path` instead of the package's own build: the desktop agent runs on
 * Electron's ABI, while node_modules keeps the build for Node that the CLI and the tests use.
 */
export function useSqliteBinding(path: string): void {
  nativeBinding = path;
}

/**
 * Opens (creating it if needed) one of Hindsight's local SQLite databases in
 * `folder` and brings its schema forward: `migrations[i]` takes the schema
 * from version i to i+1, and the database's user_version records how far it
 * got, so an older cache upgrades in place and a newer one is left alone.
 */
export function openCacheDatabase(folder: string, file: string, migrations: readonly string[]): Database.Database {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const db = new Database(join(folder, file), { timeout: BUSY_WAIT_MS, ...(nativeBinding === undefined ? {} : { nativeBinding }) });
  try {
    // Switching a new database to WAL reads its header and then upgrades to a write lock. SQLite does not
    // wait for a lock it is upgrading to (two upgrading readers would deadlock), so when another process
    // was converting or migrating the same new file at that moment this failed at once with "database is
    // locked" (seen in CI); trying again after the other process's write is the way out.
    retryWhileBusy(() => db.pragma('journal_mode = WAL'));
    db.pragma('synchronous = NORMAL');
    const current = () => db.pragma('user_version', { simple: true }) as number;
    if (current() < migrations.length) {
      // BEGIN IMMEDIATE takes the write lock before the version is read again: two processes opening a new
      // cache at once (two backups) both saw version 0 and the second failed with "table … already exists".
      db.transaction(() => {
        for (let i = current(); i < migrations.length; i++) {
          db.exec(migrations[i] as string);
          db.pragma(`user_version = ${i + 1}`);
        }
      }).immediate();
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function retryWhileBusy<T>(operation: () => T): T {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (let pause = 5; ; pause = Math.min(2 * pause, 100)) {
    try {
      return operation();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw error;
      Atomics.wait(sleeper, 0, 0, pause);
    }
  }
}
