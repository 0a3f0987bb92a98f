import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Opens (creating it if needed) one of Hindsight's local SQLite databases in
 * `folder` and brings its schema forward: `migrations[i]` takes the schema
 * from version i to i+1, and the database's user_version records how far it
 * got, so an older cache upgrades in place and a newer one is left alone.
 */
export function openCacheDatabase(folder: string, file: string, migrations: readonly string[]): Database.Database {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const db = new Database(join(folder, file));
  db.pragma('journal_mode = WAL');
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
}
