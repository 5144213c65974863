// The Store contract as tests (STYLE.md habit 5; RELIABILITY.md P7): one suite that every adapter
// runs through a factory, so SQLite and PostgreSQL are held to the same behaviour. Each test gets a
// fresh, empty store from the factory and hands it back to `cleanup`.
//
// Liveness is adapter-specific (SQLite checks the owner's pid on this host, a multi-worker adapter
// uses lease expiry). The suite makes an owner "dead" both ways: its pid has exited and its last
// heartbeat is an hour old; and "live" both ways: this process's pid and a fresh heartbeat.
//
// Adapters must honour the test hook `midTransaction` (called inside a write transaction, after
// the events are inserted): the atomicity test throws from it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { processStartTime } from '../../src/store/owner.ts';
import {
  type CacheEntry,
  LostOwnershipError,
  type NewEvent,
  type NewRun,
  type Owner,
  type Store,
  type WriteBatch,
} from '../../src/store/types.ts';

export interface StoreTestHooks {
  /** Called inside every write transaction, after the batch's events are inserted. */
  readonly midTransaction?: () => void;
}

export type StoreFactory = (hooks?: StoreTestHooks) => Promise<{ store: Store; cleanup(): Promise<void> }>;

const HOUR = 3_600_000;
const NO_FENCES: ReadonlyMap<string, number> = new Map();

/** An owner that is alive: this very process, under another owner id. */
export function liveOwner(id = 'live-other'): Owner {
  return { id, host: hostname(), pid: process.pid, pidStart: processStartTime(process.pid) };
}

/** An owner whose process has exited (a pid that existed, then ended and was reaped). */
export function deadOwner(id = 'dead'): Owner {
  const pid = spawnSync('true').pid;
  assert.ok(pid !== undefined && pid > 0, 'spawning `true` to get a dead pid');
  return { id, host: hostname(), pid, pidStart: '1' };
}

export function newRun(id: string, fields: Partial<NewRun> = {}): NewRun {
  return {
    id,
    workflow: 'wf',
    version: 'v1',
    trigger: 'manual',
    inputs: { n: 1, nested: { list: [1, 'two'] } },
    parentRun: null,
    parentTask: null,
    concurrencyKey: null,
    createdAt: 1_000,
    ...fields,
  };
}

export function event(runId: string, type: string, fields: Partial<NewEvent> = {}): NewEvent {
  return { runId, type, task: null, item: null, attempt: null, at: 2_000, data: null, ...fields };
}

async function createRuns(store: Store, ...runs: NewRun[]): Promise<void> {
  await store.write({ runs, events: runs.map((r) => event(r.id, 'run.created')) }, NO_FENCES);
}

/** Writes a batch and returns the error it was refused with (fails the test if it was accepted). */
async function refused(store: Store, batch: WriteBatch, fences: ReadonlyMap<string, number>): Promise<unknown> {
  try {
    await store.write(batch, fences);
  } catch (error) {
    return error;
  }
  assert.fail('the write was accepted; it should have been refused');
}

export function describeStore(name: string, makeStore: StoreFactory): void {
  /** Runs `fn` on a fresh store and always cleans up. */
  const withStore =
    (fn: (store: Store) => Promise<void>, hooks?: StoreTestHooks): (() => Promise<void>) =>
    async () => {
      const { store, cleanup } = await makeStore(hooks);
      try {
        await fn(store);
      } finally {
        await store.close();
        await cleanup();
      }
    };

  describe(`Store conformance: ${name}`, () => {
    describe('workflow versions', () => {
      it(
        'saves a version once: saving it again keeps the first record; its validated form is added once known',
        withStore(async (store) => {
          const first = { version: 'abc', name: 'wf', file: '/w.yaml', source: 'name: wf\n', createdAt: 5 };
          await store.saveWorkflowVersion(first);
          await store.saveWorkflowVersion({ ...first, source: 'changed', createdAt: 6 });
          const got = await store.getWorkflowVersion('abc');
          assert.deepEqual({ ...got, validated: got?.validated ?? null }, { ...first, validated: null });
          await store.saveWorkflowVersion({ ...first, source: 'changed', validated: '{"doc":1}' });
          await store.saveWorkflowVersion({ ...first, validated: null });
          const later = await store.getWorkflowVersion('abc');
          assert.deepEqual(later, { ...first, validated: '{"doc":1}' }, 'the source stays; the validated form is kept');
          assert.equal(await store.getWorkflowVersion('nope'), undefined);
        }),
      );
    });

    it(
      'close() may be called twice',
      withStore(async (store) => {
        await store.close(); // withStore closes it again
      }),
    );

    describe('runs and events', () => {
      it(
        'a new run is queued, unowned, at epoch 0, and reads back field for field',
        withStore(async (store) => {
          const run = newRun('r1', { parentRun: 'p', parentTask: 'deploy[2]', concurrencyKey: 'k', createdAt: 77 });
          await createRuns(store, run);
          const got = await store.getRun('r1');
          assert.ok(got);
          assert.deepEqual(
            { ...got },
            {
              ...run,
              state: 'queued',
              startedAt: null,
              finishedAt: null,
              outputs: null,
              error: null,
              owner: null,
              epoch: 0,
              heartbeatAt: null,
            },
          );
          assert.equal(await store.getRun('missing'), undefined);
        }),
      );

      it(
        'events come back in order with increasing seq, unique across runs; `after` reads only later ones',
        withStore(async (store) => {
          await createRuns(store, newRun('a'), newRun('b'));
          const data = { outputs: { list: [1, { deep: 'x' }], nothing: null }, text: 'é\u0000"' };
          await store.write(
            {
              events: [
                event('a', 'run.started'),
                event('b', 'run.started'),
                event('a', 'task.started', { task: 't', item: 3, attempt: 1, at: 9, data }),
              ],
            },
            NO_FENCES,
          );
          await store.write({ events: [event('a', 'task.succeeded', { task: 't', item: 3, attempt: 1 })] }, NO_FENCES);
          const a = await store.readEvents('a');
          const b = await store.readEvents('b');
          assert.deepEqual(
            a.map((e) => e.type),
            ['run.created', 'run.started', 'task.started', 'task.succeeded'],
          );
          assert.deepEqual(
            b.map((e) => e.type),
            ['run.created', 'run.started'],
          );
          for (const list of [a, b]) {
            for (let i = 1; i < list.length; i++) assert.ok(list[i]!.seq > list[i - 1]!.seq, 'seq increases');
          }
          const seqs = [...a, ...b].map((e) => e.seq);
          assert.equal(new Set(seqs).size, seqs.length, 'seq is unique across runs');
          const started = a[2]!;
          assert.deepEqual(
            { ...started, seq: 0 },
            { seq: 0, runId: 'a', type: 'task.started', task: 't', item: 3, attempt: 1, at: 9, data },
          );
          assert.equal(a[0]!.data, null);
          assert.deepEqual(
            (await store.readEvents('a', a[1]!.seq)).map((e) => e.type),
            ['task.started', 'task.succeeded'],
          );
          assert.deepEqual(await store.readEvents('a', a[3]!.seq), []);
          assert.deepEqual(await store.readEvents('unknown'), []);
        }),
      );

      it(
        'run updates change only the fields they name',
        withStore(async (store) => {
          await createRuns(store, newRun('r'));
          await store.write({ updates: [{ id: 'r', state: 'running', startedAt: 10 }] }, NO_FENCES);
          let run = (await store.getRun('r'))!;
          assert.equal(run.state, 'running');
          assert.equal(run.startedAt, 10);
          assert.equal(run.finishedAt, null);
          await store.write(
            { updates: [{ id: 'r', state: 'failed', finishedAt: 20, outputs: { x: [1] }, error: 'boom' }] },
            NO_FENCES,
          );
          run = (await store.getRun('r'))!;
          assert.deepEqual(
            [run.state, run.startedAt, run.finishedAt, run.outputs, run.error],
            ['failed', 10, 20, { x: [1] }, 'boom'],
          );
          await store.write(
            { updates: [{ id: 'r', state: 'running', outputs: null, error: null } as const] },
            NO_FENCES,
          );
          run = (await store.getRun('r'))!;
          assert.deepEqual([run.state, run.outputs, run.error, run.startedAt], ['running', null, null, 10]);
        }),
      );

      it(
        'logs: all, by task, after a seq, with a limit',
        withStore(async (store) => {
          await createRuns(store, newRun('r'), newRun('other'));
          const line = (task: string, text: string, stream: 'stdout' | 'stderr' | 'info' = 'stdout') => ({
            runId: 'r',
            task,
            item: task === 'b' ? 1 : null,
            attempt: 1,
            stream,
            at: 3,
            line: text,
          });
          await store.write(
            {
              logs: [
                line('a', 'a1'),
                line('b', 'b1', 'stderr'),
                line('a', 'a2'),
                { ...line('a', 'x'), runId: 'other' },
              ],
            },
            NO_FENCES,
          );
          await store.write({ logs: [line('b', 'b2', 'info')] }, NO_FENCES);
          const all = await store.readLogs('r');
          assert.deepEqual(
            all.map((l) => l.line),
            ['a1', 'b1', 'a2', 'b2'],
          );
          for (let i = 1; i < all.length; i++) assert.ok(all[i]!.seq > all[i - 1]!.seq);
          assert.deepEqual(
            { ...all[1]!, seq: 0 },
            { seq: 0, runId: 'r', task: 'b', item: 1, attempt: 1, stream: 'stderr', at: 3, line: 'b1' },
          );
          assert.deepEqual(
            (await store.readLogs('r', { task: 'a' })).map((l) => l.line),
            ['a1', 'a2'],
          );
          assert.deepEqual(
            (await store.readLogs('r', { afterSeq: all[1]!.seq })).map((l) => l.line),
            ['a2', 'b2'],
          );
          assert.deepEqual(
            (await store.readLogs('r', { task: 'b', afterSeq: all[1]!.seq })).map((l) => l.line),
            ['b2'],
          );
          assert.deepEqual(
            (await store.readLogs('r', { limit: 2 })).map((l) => l.line),
            ['a1', 'b1'],
          );
          assert.deepEqual(await store.readLogs('nobody'), []);
        }),
      );
    });

    describe('atomic batches', () => {
      it(
        'a statement failing late in a batch leaves nothing of the batch',
        withStore(async (store) => {
          await createRuns(store, newRun('exists'));
          const before = await store.readEvents('exists');
          // The cache entry cannot be serialised (a BigInt): it fails after runs, events, updates
          // and logs were written in the same transaction.
          const error = await refused(
            store,
            {
              runs: [newRun('fresh')],
              events: [event('fresh', 'run.created'), event('exists', 'run.started')],
              updates: [{ id: 'exists', state: 'running' }],
              logs: [{ runId: 'exists', task: 't', item: null, attempt: 1, stream: 'info', at: 1, line: 'x' }],
              cache: [cacheEntry('k', 'exists', { outputs: { n: 1n } })],
            },
            NO_FENCES,
          );
          assert.match(String(error), /BigInt/);
          // A constraint failing after a first insert: `exists` is inserted again after `fresh2`.
          await refused(
            store,
            { runs: [newRun('fresh2'), newRun('exists')], events: [event('exists', 'run.started')] },
            NO_FENCES,
          );
          assert.equal(await store.getRun('fresh'), undefined, 'the run inserted before the failure is gone');
          assert.equal(await store.getRun('fresh2'), undefined, 'the run inserted before the failure is gone');
          assert.deepEqual(await store.readEvents('fresh'), []);
          assert.deepEqual(await store.readEvents('exists'), before, 'no event of the failed batches is kept');
          assert.equal((await store.getRun('exists'))!.state, 'queued', 'the update is rolled back');
          assert.deepEqual(await store.readLogs('exists'), []);
          assert.equal(await store.lookupCache('k', 0), undefined);
          // The store is still usable.
          await store.write({ events: [event('exists', 'run.started')] }, NO_FENCES);
          assert.equal((await store.readEvents('exists')).length, before.length + 1);
        }),
      );

      let failNext = false;
      it(
        'an error inside the transaction (hooks.midTransaction) rolls back everything written so far',
        withStore(
          async (store) => {
            await createRuns(store, newRun('r'));
            await store.postCommand({ runId: 'r', type: 'cancel', task: null, item: null, data: {}, createdAt: 1 });
            const [command] = await store.takeCommands(['r']);
            failNext = true;
            const error = await refused(
              store,
              {
                runs: [newRun('n')],
                events: [event('r', 'run.started'), event('n', 'run.created')],
                updates: [{ id: 'r', state: 'running', startedAt: 5 }],
                logs: [{ runId: 'r', task: 't', item: null, attempt: 1, stream: 'info', at: 1, line: 'x' }],
                cache: [cacheEntry('k', 'r')],
                commandsDone: [command!.id],
              },
              NO_FENCES,
            );
            assert.match(String(error), /injected mid-transaction failure/);
            assert.equal(failNext, false, 'the adapter must call hooks.midTransaction inside write()');
            assert.equal(await store.getRun('n'), undefined);
            assert.deepEqual(
              (await store.readEvents('r')).map((e) => e.type),
              ['run.created'],
            );
            const run = (await store.getRun('r'))!;
            assert.deepEqual([run.state, run.startedAt], ['queued', null]);
            assert.deepEqual(await store.readLogs('r'), []);
            assert.equal(await store.lookupCache('k', 0), undefined);
            assert.equal((await store.takeCommands(['r'])).length, 1, 'the command is not marked done');
          },
          {
            midTransaction: () => {
              if (!failNext) return;
              failNext = false;
              throw new Error('injected mid-transaction failure');
            },
          },
        ),
      );
    });

    describe('ownership and fencing', () => {
      it(
        'claimRun: a new run is taken at epoch 1 and the owner recorded',
        withStore(async (store) => {
          await createRuns(store, newRun('r'));
          const me = liveOwner('me');
          assert.deepEqual(await store.claimRun('r', me), { ok: true, epoch: 1 });
          const run = (await store.getRun('r'))!;
          assert.deepEqual(run.owner, me);
          assert.equal(run.epoch, 1);
          assert.ok(run.heartbeatAt !== null && Math.abs(run.heartbeatAt - Date.now()) < 60_000);
          // The same owner claiming again (a resume in the same process) moves the epoch on.
          assert.deepEqual(await store.claimRun('r', me), { ok: true, epoch: 2 });
          await assert.rejects(store.claimRun('missing', me));
        }),
      );

      it(
        'claimRun: refused while a live owner holds the run; nothing changes',
        withStore(async (store) => {
          await createRuns(store, newRun('r'));
          const holder = liveOwner('holder');
          await store.claimRun('r', holder);
          await store.heartbeat(holder, ['r'], Date.now());
          const result = await store.claimRun('r', liveOwner('intruder'));
          assert.equal(result.ok, false);
          assert.ok(!result.ok);
          assert.deepEqual(result.owner, holder);
          assert.ok(result.reason.length > 0, 'the refusal says why');
          const run = (await store.getRun('r'))!;
          assert.equal(run.epoch, 1);
          assert.deepEqual(run.owner, holder);
        }),
      );

      it(
        'claimRun: a dead owner is taken over with epoch + 1',
        withStore(async (store) => {
          await createRuns(store, newRun('r'));
          const dead = deadOwner();
          assert.deepEqual(await store.claimRun('r', dead), { ok: true, epoch: 1 });
          await store.heartbeat(dead, ['r'], Date.now() - HOUR);
          const next = liveOwner('next');
          assert.deepEqual(await store.claimRun('r', next), { ok: true, epoch: 2 });
          assert.deepEqual((await store.getRun('r'))!.owner, next);
        }),
      );

      it(
        'fencing: a write with a stale epoch is refused (LostOwnershipError) and nothing of it is written',
        withStore(async (store) => {
          await createRuns(store, newRun('r'), newRun('bystander'));
          const dead = deadOwner();
          const old = await store.claimRun('r', dead);
          assert.ok(old.ok);
          await store.write({ events: [event('r', 'run.started')] }, new Map([['r', old.epoch]]));
          await store.heartbeat(dead, ['r'], Date.now() - HOUR);
          const current = await store.claimRun('r', liveOwner('new'));
          assert.ok(current.ok);
          assert.equal(current.epoch, old.epoch + 1);
          const error = await refused(
            store,
            {
              runs: [newRun('spawned')],
              events: [event('r', 'task.started', { task: 't', attempt: 1 }), event('bystander', 'run.started')],
              updates: [{ id: 'r', state: 'succeeded' }],
              logs: [{ runId: 'r', task: 't', item: null, attempt: 1, stream: 'info', at: 1, line: 'late' }],
              cache: [cacheEntry('late', 'r')],
            },
            new Map([['r', old.epoch]]),
          );
          assert.ok(error instanceof LostOwnershipError, `expected LostOwnershipError, got ${String(error)}`);
          assert.equal(error.runId, 'r');
          assert.deepEqual(
            (await store.readEvents('r')).map((e) => e.type),
            ['run.created', 'run.started'],
          );
          assert.deepEqual(
            (await store.readEvents('bystander')).map((e) => e.type),
            ['run.created'],
          );
          assert.equal((await store.getRun('r'))!.state, 'queued');
          assert.equal(await store.getRun('spawned'), undefined);
          assert.deepEqual(await store.readLogs('r'), []);
          assert.equal(await store.lookupCache('late', 0), undefined);
          // The current owner's epoch is accepted.
          await store.write({ events: [event('r', 'run.recovered')] }, new Map([['r', current.epoch]]));
          assert.equal((await store.readEvents('r')).length, 3);
        }),
      );

      it(
        'fencing: a log-only batch from a stale owner is refused too',
        withStore(async (store) => {
          await createRuns(store, newRun('r'));
          const dead = deadOwner();
          const old = await store.claimRun('r', dead);
          assert.ok(old.ok);
          await store.heartbeat(dead, ['r'], Date.now() - HOUR);
          assert.ok((await store.claimRun('r', liveOwner('new'))).ok);
          const error = await refused(
            store,
            { logs: [{ runId: 'r', task: 't', item: null, attempt: 1, stream: 'stdout', at: 1, line: 'zombie' }] },
            new Map([['r', old.epoch]]),
          );
          assert.ok(error instanceof LostOwnershipError, `expected LostOwnershipError, got ${String(error)}`);
          assert.deepEqual(await store.readLogs('r'), []);
        }),
      );

      it(
        'fencing: a fence on a run that does not exist is refused',
        withStore(async (store) => {
          const error = await refused(store, { events: [event('ghost', 'run.started')] }, new Map([['ghost', 1]]));
          assert.ok(error instanceof LostOwnershipError);
          assert.deepEqual(await store.readEvents('ghost'), []);
        }),
      );

      it(
        'releaseRun: gives the run up at the held epoch only; then anyone may claim it',
        withStore(async (store) => {
          await createRuns(store, newRun('r'));
          const holder = liveOwner('holder');
          const claim = await store.claimRun('r', holder);
          assert.ok(claim.ok);
          await store.releaseRun('r', claim.epoch - 1);
          assert.deepEqual((await store.getRun('r'))!.owner, holder, 'a stale release does nothing');
          await store.releaseRun('r', claim.epoch);
          assert.equal((await store.getRun('r'))!.owner, null);
          assert.deepEqual(await store.claimRun('r', liveOwner('next')), { ok: true, epoch: claim.epoch + 1 });
        }),
      );

      it(
        "heartbeat: renews the owner's runs only",
        withStore(async (store) => {
          await createRuns(store, newRun('mine'), newRun('theirs'), newRun('free'));
          const me = liveOwner('me');
          const them = liveOwner('them');
          await store.claimRun('mine', me);
          await store.claimRun('theirs', them);
          await store.heartbeat(them, ['theirs'], 111);
          await store.heartbeat(me, ['mine', 'theirs', 'free'], 222);
          assert.equal((await store.getRun('mine'))!.heartbeatAt, 222);
          assert.equal((await store.getRun('theirs'))!.heartbeatAt, 111);
          assert.equal((await store.getRun('free'))!.heartbeatAt, null);
          await store.heartbeat(me, [], 333);
          assert.equal((await store.getRun('mine'))!.heartbeatAt, 222);
        }),
      );
    });

    describe('listing and finding runs', () => {
      it(
        'listRuns: newest first, filters by workflow, state and top level, with a limit',
        withStore(async (store) => {
          await createRuns(
            store,
            newRun('r1', { createdAt: 1, workflow: 'a' }),
            newRun('r2', { createdAt: 2, workflow: 'b' }),
            newRun('r3', { createdAt: 3, workflow: 'a', parentRun: 'r1', parentTask: 't' }),
            newRun('r4', { createdAt: 4, workflow: 'a' }),
          );
          await store.write(
            {
              updates: [
                { id: 'r2', state: 'succeeded' },
                { id: 'r4', state: 'failed' },
              ],
            },
            NO_FENCES,
          );
          const ids = async (f: Parameters<Store['listRuns']>[0]) => (await store.listRuns(f)).map((r) => r.id);
          assert.deepEqual(await ids(undefined), ['r4', 'r3', 'r2', 'r1']);
          assert.deepEqual(await ids({ workflow: 'a' }), ['r4', 'r3', 'r1']);
          assert.deepEqual(await ids({ state: 'queued' }), ['r3', 'r1']);
          assert.deepEqual(await ids({ state: ['succeeded', 'failed'] }), ['r4', 'r2']);
          assert.deepEqual(await ids({ topLevel: true }), ['r4', 'r2', 'r1']);
          assert.deepEqual(await ids({ workflow: 'a', state: ['queued'], topLevel: true }), ['r1']);
          assert.deepEqual(await ids({ limit: 2 }), ['r4', 'r3']);
          assert.deepEqual(await ids({ workflow: 'none' }), []);
        }),
      );

      it(
        'listRuns: the `before` cursor pages through every run exactly once (ties on time ordered by id)',
        withStore(async (store) => {
          const runs = Array.from({ length: 23 }, (_, i) =>
            newRun(`run${String(i).padStart(2, '0')}`, { createdAt: 100 + Math.floor(i / 4) }),
          );
          await createRuns(store, ...runs);
          const seen: string[] = [];
          let before: string | undefined;
          for (let page = 0; page < 10; page++) {
            const got = await store.listRuns({ limit: 5, ...(before === undefined ? {} : { before }) });
            if (got.length === 0) break;
            seen.push(...got.map((r) => r.id));
            before = got.at(-1)!.id;
          }
          const expected = runs
            .toSorted((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
            .map((r) => r.id);
          assert.deepEqual(seen, expected);
          assert.deepEqual(await store.listRuns({ before: 'run00' }), []);
        }),
      );

      it(
        'findRunId: exact ids, unique prefixes, ambiguous prefixes (a list), none; wildcards are literal',
        withStore(async (store) => {
          await createRuns(
            store,
            newRun('abc1', { createdAt: 1 }),
            newRun('abc2', { createdAt: 2 }),
            newRun('abd', { createdAt: 3 }),
            newRun('x_y', { createdAt: 4 }),
          );
          assert.equal(await store.findRunId('abc1'), 'abc1');
          assert.equal(await store.findRunId('abd'), 'abd');
          assert.equal(await store.findRunId('abc2'), 'abc2');
          const many = await store.findRunId('abc');
          assert.ok(Array.isArray(many));
          assert.deepEqual([...many].sort(), ['abc1', 'abc2']);
          assert.ok(Array.isArray(await store.findRunId('ab')));
          assert.equal(await store.findRunId('zzz'), undefined);
          assert.equal(await store.findRunId('x_'), 'x_y');
          assert.equal(await store.findRunId('a_'), undefined, '_ matches only itself');
          assert.equal(await store.findRunId('%'), undefined, '% matches only itself');
        }),
      );

      it(
        'listChildRuns: the children of one run, oldest first',
        withStore(async (store) => {
          await createRuns(
            store,
            newRun('parent', { createdAt: 1 }),
            newRun('c2', { createdAt: 3, parentRun: 'parent', parentTask: 'deploy[1]' }),
            newRun('c1', { createdAt: 2, parentRun: 'parent', parentTask: 'deploy[0]' }),
            newRun('other', { createdAt: 4, parentRun: 'elsewhere', parentTask: 't' }),
          );
          const children = await store.listChildRuns('parent');
          assert.deepEqual(
            children.map((c) => [c.id, c.parentTask]),
            [
              ['c1', 'deploy[0]'],
              ['c2', 'deploy[1]'],
            ],
          );
          assert.deepEqual(await store.listChildRuns('c1'), []);
        }),
      );
    });

    describe('cache', () => {
      it(
        'an entry is found until it expires; no expiry means forever; a second write replaces it',
        withStore(async (store) => {
          await store.write(
            {
              cache: [
                cacheEntry('ttl', 'r1', { expiresAt: 1_000 }),
                cacheEntry('forever', 'r1', { expiresAt: null, item: 2 }),
              ],
            },
            NO_FENCES,
          );
          const hit = await store.lookupCache('ttl', 999);
          assert.deepEqual(hit, cacheEntry('ttl', 'r1', { expiresAt: 1_000 }));
          assert.equal(await store.lookupCache('ttl', 1_000), undefined, 'expired at its expiry time');
          assert.equal(await store.lookupCache('ttl', 5_000), undefined);
          assert.equal((await store.lookupCache('forever', Number.MAX_SAFE_INTEGER))?.item, 2);
          assert.equal(await store.lookupCache('absent', 0), undefined);
          const replaced = cacheEntry('ttl', 'r2', { outputs: { v: 'new' }, createdAt: 2_000, expiresAt: 9_000 });
          await store.write({ cache: [replaced] }, NO_FENCES);
          assert.deepEqual(await store.lookupCache('ttl', 5_000), replaced);
        }),
      );
    });

    describe('commands', () => {
      it(
        'posted commands are taken per run in order, kept until a batch marks them done',
        withStore(async (store) => {
          await createRuns(store, newRun('a'), newRun('b'));
          const decide = {
            runId: 'a',
            type: 'decide' as const,
            task: 'approve',
            item: 1,
            data: { decision: 'approve', fields: { n: 2 } },
            createdAt: 10,
          };
          const id1 = await store.postCommand(decide);
          const id2 = await store.postCommand({ ...decide, runId: 'b', type: 'cancel', task: null, item: null });
          const id3 = await store.postCommand({ ...decide, task: 'other', createdAt: 11 });
          assert.ok(id2 > id1 && id3 > id2, 'ids increase');
          const forA = await store.takeCommands(['a']);
          assert.deepEqual(forA, [
            { ...decide, id: id1 },
            { ...decide, task: 'other', createdAt: 11, id: id3 },
          ]);
          assert.deepEqual(
            (await store.takeCommands(['a', 'b'])).map((c) => c.id),
            [id1, id2, id3],
          );
          assert.equal((await store.takeCommands(['a'])).length, 2, 'taking does not consume');
          await store.write({ commandsDone: [id1, id2] }, NO_FENCES);
          assert.deepEqual(
            (await store.takeCommands(['a', 'b'])).map((c) => c.id),
            [id3],
          );
          assert.deepEqual(await store.takeCommands([]), []);
          assert.deepEqual(await store.takeCommands(['nobody']), []);
        }),
      );
    });

    describe('concurrency slots', () => {
      it(
        'acquireSlot: at most `limit` holders; re-acquiring is a no-op; releasing frees a slot',
        withStore(async (store) => {
          await createRuns(store, newRun('r1'), newRun('r2'), newRun('r3'));
          const alive = () => true;
          assert.equal(await store.acquireSlot('k', 2, 'r1', alive), true);
          assert.equal(await store.acquireSlot('k', 2, 'r2', alive), true);
          assert.equal(await store.acquireSlot('k', 2, 'r3', alive), false);
          assert.equal(await store.acquireSlot('k', 2, 'r1', alive), true, 'a holder asking again keeps its slot');
          assert.equal(await store.acquireSlot('other', 1, 'r3', alive), true, 'keys are independent');
          await store.write({ releaseSlots: [{ key: 'k', runId: 'r2' }] }, NO_FENCES);
          assert.equal(await store.acquireSlot('k', 2, 'r3', alive), true);
          assert.equal(await store.acquireSlot('k', 2, 'r2', alive), false);
        }),
      );

      it(
        'acquireSlot: holders that ended, vanished or whose owner died are cleaned up',
        withStore(async (store) => {
          await createRuns(store, newRun('ended'), newRun('orphan'), newRun('live'), newRun('waiting'));
          const alive = (o: Owner) => o.id !== 'dead';
          assert.equal(await store.acquireSlot('k', 3, 'ended', alive), true);
          assert.equal(await store.acquireSlot('k', 3, 'orphan', alive), true);
          assert.equal(await store.acquireSlot('k', 3, 'live', alive), true);
          assert.equal(await store.acquireSlot('k', 3, 'waiting', alive), false);
          await store.write({ updates: [{ id: 'ended', state: 'succeeded' }] }, NO_FENCES);
          assert.equal(await store.acquireSlot('k', 3, 'waiting', alive), true, 'a finished run frees its slot');
          await createRuns(store, newRun('late'));
          assert.equal(await store.acquireSlot('k', 3, 'late', alive), false);
          await store.claimRun('orphan', deadOwner());
          await store.heartbeat(deadOwner(), ['orphan'], Date.now() - HOUR);
          assert.equal(await store.acquireSlot('k', 3, 'late', alive), true, "a dead owner's run frees its slot");
          await store.claimRun('live', liveOwner());
          await createRuns(store, newRun('later'));
          assert.equal(await store.acquireSlot('k', 3, 'later', alive), false, 'a live owner keeps its slot');
        }),
      );
    });
  });
}

function cacheEntry(key: string, runId: string, fields: Partial<CacheEntry> = {}): CacheEntry {
  return {
    key,
    runId,
    task: 't',
    item: null,
    outputs: { out: [1, 'two'], nested: { x: null } },
    artifacts: { 'report.txt': 'sha256:abc' },
    createdAt: 500,
    expiresAt: null,
    ...fields,
  };
}
