// The peers' database: a fresh SQLite file in WAL mode with synchronous=FULL (the durability
// flowd promises), an inbox for duplicate detection, the instances and an outbox.
import Database from 'better-sqlite3';
import fs from 'node:fs';

export function openDatabase(path, stateColumn) {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(path + suffix, { force: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE inbox (event_id TEXT PRIMARY KEY, type TEXT NOT NULL, received_at TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE instances (key TEXT PRIMARY KEY, status TEXT NOT NULL, ${stateColumn} TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE outbox (row INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, type TEXT NOT NULL,
                         payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending');
  `);
  return {
    db,
    insertInbox: db.prepare('INSERT OR IGNORE INTO inbox (event_id, type, received_at) VALUES (?, ?, ?)'),
    findInstance: db.prepare(`SELECT ${stateColumn} AS state FROM instances WHERE key = ? AND status = 'running'`),
    saveInstance: db.prepare(`INSERT INTO instances (key, status, ${stateColumn}, updated_at) VALUES (?, ?, ?, ?) ` +
      `ON CONFLICT (key) DO UPDATE SET status = excluded.status, ${stateColumn} = excluded.${stateColumn}, updated_at = excluded.updated_at`),
    insertCommand: db.prepare('INSERT INTO outbox (key, type, payload) VALUES (?, ?, ?)'),
    completed: () => db.prepare("SELECT count(*) AS n FROM instances WHERE status = 'completed'").get().n,
  };
}
