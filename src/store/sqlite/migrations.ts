/**
 * Versioned schema migrations of the SQLite store. `PRAGMA user_version` holds the number of the
 * last migration applied; each migration runs in its own transaction. Never edit a migration
 * that has shipped: add the next one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, events, logs, cache, commands, slots',
    sql: `
      CREATE TABLE workflow_versions (
        version    TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        file       TEXT NOT NULL,
        source     TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE runs (
        id              TEXT PRIMARY KEY,
        workflow        TEXT NOT NULL,
        version         TEXT NOT NULL,
        state           TEXT NOT NULL,
        trigger         TEXT NOT NULL,
        inputs          TEXT NOT NULL,
        parent_run      TEXT,
        parent_task     TEXT,
        concurrency_key TEXT,
        created_at      INTEGER NOT NULL,
        started_at      INTEGER,
        finished_at     INTEGER,
        outputs         TEXT,
        error           TEXT,
        owner           TEXT,
        epoch           INTEGER NOT NULL DEFAULT 0,
        heartbeat_at    INTEGER
      ) STRICT;
      CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
      CREATE INDEX runs_workflow ON runs (workflow, created_at DESC);
      CREATE INDEX runs_parent ON runs (parent_run) WHERE parent_run IS NOT NULL;
      CREATE INDEX runs_active ON runs (state) WHERE state IN ('queued', 'running', 'waiting');
      CREATE TABLE events (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id  TEXT NOT NULL,
        type    TEXT NOT NULL,
        task    TEXT,
        item    INTEGER,
        attempt INTEGER,
        at      INTEGER NOT NULL,
        data    TEXT
      ) STRICT;
      CREATE INDEX events_run ON events (run_id, seq);
      CREATE TABLE logs (
        seq     INTEGER PRIMARY KEY,
        run_id  TEXT NOT NULL,
        task    TEXT NOT NULL,
        item    INTEGER,
        attempt INTEGER NOT NULL,
        stream  TEXT NOT NULL,
        at      INTEGER NOT NULL,
        line    TEXT NOT NULL
      ) STRICT;
      CREATE INDEX logs_run ON logs (run_id, seq);
      CREATE TABLE cache (
        key        TEXT PRIMARY KEY,
        run_id     TEXT NOT NULL,
        task       TEXT NOT NULL,
        item       INTEGER,
        outputs    TEXT NOT NULL,
        artifacts  TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER
      ) STRICT;
      CREATE TABLE commands (
        id         INTEGER PRIMARY KEY,
        run_id     TEXT NOT NULL,
        type       TEXT NOT NULL,
        task       TEXT,
        item       INTEGER,
        data       TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX commands_run ON commands (run_id);
      CREATE TABLE slots (
        key    TEXT NOT NULL,
        run_id TEXT NOT NULL,
        PRIMARY KEY (key, run_id)
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'the validated form of each workflow version',
    sql: `ALTER TABLE workflow_versions ADD COLUMN validated TEXT;`,
  },
  {
    version: 3,
    name: 'the server: users, tokens, audit, schedules and processes',
    sql: `
      CREATE TABLE users (
        name       TEXT PRIMARY KEY,
        role       TEXT NOT NULL,
        groups     TEXT NOT NULL,
        workflows  TEXT,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL
      ) STRICT;
      CREATE TABLE tokens (
        id           TEXT PRIMARY KEY,
        user_name    TEXT NOT NULL,
        label        TEXT NOT NULL,
        hash         TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        expires_at   INTEGER,
        revoked_at   INTEGER,
        last_used_at INTEGER
      ) STRICT;
      CREATE INDEX tokens_user ON tokens (user_name);
      CREATE TABLE audit (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        target  TEXT,
        outcome TEXT NOT NULL,
        status  INTEGER NOT NULL,
        detail  TEXT
      ) STRICT;
      CREATE INDEX audit_actor ON audit (actor, seq);
      CREATE TABLE schedules (
        id         TEXT PRIMARY KEY,
        paused     INTEGER NOT NULL DEFAULT 0,
        last_tick  INTEGER,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE processes (
        name       TEXT PRIMARY KEY,
        desired    TEXT NOT NULL,
        pgid       INTEGER,
        pid_start  TEXT,
        updated_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX runs_trigger ON runs (trigger, created_at DESC);
    `,
  },
];
