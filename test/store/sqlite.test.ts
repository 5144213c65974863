// SqliteStore: the conformance suite on a fresh file per test, then what only SQLite has: WAL,
// the `synchronous` setting, versioned migrations, and two connections waiting on each other.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { processStartTime } from '../../src/store/owner.ts';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { deadOwner, describeStore, event, liveOwner, newRun } from './conformance.ts';

function tempDb(): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rivet-store-'));
  return { dir, path: join(dir, 'rivet.db') };
}

describeStore('sqlite', async (hooks) => {
  const { dir, path } = tempDb();
  const store = new SqliteStore(path, hooks === undefined ? {} : { hooks });
  return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

/** A store on a fresh file, closed and removed after `fn`. */
async function withSqlite(
  fn: (store: SqliteStore, path: string) => Promise<void> | void,
  options: ConstructorParameters<typeof SqliteStore>[1] = {},
): Promise<void> {
  const { dir, path } = tempDb();
  const store = new SqliteStore(path, options);
  try {
    await fn(store, path);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const LATEST = MIGRATIONS.at(-1)!.version;

describe('SqliteStore only', () => {
  it('uses WAL, and synchronous NORMAL by default or FULL when asked', async () => {
    await withSqlite((store, path) => {
      assert.equal(store.setting('journal_mode'), 'wal');
      assert.equal(store.setting('synchronous'), 1, 'NORMAL is 1');
      const other = new DatabaseSync(path);
      try {
        const row = other.prepare('PRAGMA journal_mode').get() as { journal_mode: string };
        assert.equal(row.journal_mode, 'wal', 'WAL is a property of the file, seen by every connection');
      } finally {
        other.close();
      }
    });
    await withSqlite((store) => assert.equal(store.setting('synchronous'), 2, 'FULL is 2'), { synchronous: 'FULL' });
  });

  it('migrations are versioned in user_version and not applied twice', async () => {
    await withSqlite(async (store, path) => {
      assert.equal(store.schemaVersion, LATEST);
      await store.saveWorkflowVersion({ version: 'v', name: 'n', file: 'f', source: 's', createdAt: 1 });
      await store.close();
      const again = new SqliteStore(path);
      try {
        assert.equal(again.schemaVersion, LATEST);
        assert.equal((await again.getWorkflowVersion('v'))?.source, 's', 'reopening keeps the data');
      } finally {
        await again.close();
      }
      const raw = new DatabaseSync(path);
      try {
        assert.equal((raw.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, LATEST);
      } finally {
        raw.close();
      }
    });
  });

  it('refuses a store written by a newer Rivet (schema version above the latest migration)', () => {
    const { dir, path } = tempDb();
    try {
      new SqliteStore(path).close();
      const raw = new DatabaseSync(path);
      raw.exec(`PRAGMA user_version = ${LATEST + 1}`);
      raw.close();
      assert.throws(() => new SqliteStore(path), /newer than this Rivet knows.*upgrade Rivet/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('integrityCheck says ok on a healthy file', async () => {
    await withSqlite((store) => assert.equal(store.integrityCheck(), 'ok'));
  });

  it('a write waits for another connection holding the lock, up to the busy timeout', async () => {
    await withSqlite(async (store, path) => {
      await store.write({ runs: [newRun('r')], events: [event('r', 'run.created')] }, new Map());
      const HOLD_MS = 400;
      const holder = spawn(
        process.execPath,
        [
          '-e',
          `const { DatabaseSync } = require('node:sqlite');
           const db = new DatabaseSync(process.argv[1]);
           db.exec('BEGIN IMMEDIATE');
           process.stdout.write('locked\\n');
           Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${HOLD_MS});
           db.exec('COMMIT');`,
          path,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = new Promise((done) => holder.once('exit', done));
      await new Promise<void>((done) => holder.stdout.once('data', () => done()));
      // A second store with a short timeout gives up, and writes nothing.
      const impatient = new SqliteStore(path, { busyTimeoutMs: 20 });
      try {
        await assert.rejects(
          impatient.write({ events: [event('r', 'run.started')] }, new Map()),
          /locked|busy/i,
          'a short busy timeout fails while the lock is held',
        );
      } finally {
        await impatient.close();
      }
      const started = performance.now();
      await store.write({ events: [event('r', 'run.started')] }, new Map());
      const waited = performance.now() - started;
      await exited;
      assert.ok(waited > 100, `the write waited for the lock (${waited.toFixed(0)} ms)`);
      assert.deepEqual(
        (await store.readEvents('r')).map((e) => e.type),
        ['run.created', 'run.started'],
      );
    });
  });

  it('an owner on another host is taken over once its heartbeat is older than the lease', async () => {
    await withSqlite(
      async (store) => {
        await store.write({ runs: [newRun('r')], events: [event('r', 'run.created')] }, new Map());
        const remote = { ...liveOwner('remote'), host: 'another-host.invalid' };
        assert.ok((await store.claimRun('r', remote)).ok);
        await store.heartbeat(remote, ['r'], Date.now());
        assert.equal((await store.claimRun('r', liveOwner('local'))).ok, false, 'fresh heartbeat: still owned');
        await store.heartbeat(remote, ['r'], Date.now() - 5_000);
        const taken = await store.claimRun('r', liveOwner('local'));
        assert.deepEqual(taken, { ok: true, epoch: 2 }, 'a heartbeat older than the lease: taken over');
      },
      { leaseMs: 1_000 },
    );
  });

  it('an owner on this host that is a zombie (killed, not reaped yet) counts as dead', async () => {
    // `sh` starts a short child, then becomes `sleep`, which never reaps it: it stays a zombie.
    const keeper = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(
        await new Promise<string>((done) => keeper.stdout.once('data', (b: Buffer) => done(String(b)))),
      );
      const pidStart = processStartTime(pid); // recorded while it runs, as an engine records itself
      assert.ok(pidStart !== null);
      await new Promise((r) => setTimeout(r, 500));
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      assert.equal(stat.slice(stat.lastIndexOf(')') + 2)[0], 'Z', 'the test set-up made a zombie');
      const zombie = { ...deadOwner('zombie'), pid, pidStart };
      await withSqlite(async (store) => {
        await store.write({ runs: [newRun('r')], events: [event('r', 'run.created')] }, new Map());
        assert.ok((await store.claimRun('r', zombie)).ok);
        await store.heartbeat(zombie, ['r'], Date.now());
        assert.deepEqual(await store.claimRun('r', liveOwner('next')), { ok: true, epoch: 2 });
      });
    } finally {
      keeper.kill('SIGKILL');
    }
  });
});
