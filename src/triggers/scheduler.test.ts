/**
 * The cron scheduler on a FakeClock with a real SQLite store: ticks across time zones and DST,
 * seconds crons, catch-up after downtime and on resume (none, latest, all), a crash between fire
 * and record (0 duplicate runs), retries of failed fires, sync, manual triggers, serialisation.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FakeClock, settle } from '../engine/clock.ts';
import { newRunId } from '../engine/engine.ts';
import type { WorkflowDocument } from '../model/index.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { ServerData } from '../store/server-types.ts';
import {
  CATCH_UP_LIMIT,
  type CatchUp,
  FIRE_ATTEMPTS,
  type FireRequest,
  type FireResult,
  RETRY_DELAY_MS,
  type ScheduledDocument,
  type ScheduleDefinition,
  Scheduler,
  type SchedulerOptions,
  schedulesOf,
  type TickEvent,
  tickRunId,
} from './scheduler.ts';

// A WorkflowDocument is accepted by schedulesOf as it is.
const _documentFits = (d: WorkflowDocument): ScheduledDocument => d;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = Date.UTC(2026, 0, 1);
const iso = (ms: number): string => new Date(ms).toISOString();

const def = (overrides: Partial<ScheduleDefinition> = {}): ScheduleDefinition => ({
  id: 'nightly#0',
  workflow: 'nightly',
  cron: '0 * * * *',
  timezone: 'UTC',
  inputs: {},
  catchUp: 'latest',
  ...overrides,
});

interface Fixture {
  clock: FakeClock;
  data: ServerData;
  /** The run table: run ids started so far. */
  runs: Set<string>;
  fired: (FireRequest & { at: number })[];
  ticks: TickEvent[];
  errors: { id: string; error: unknown }[];
  /** Starts the run unless its id exists (what the server does). */
  fire: (request: FireRequest) => Promise<FireResult>;
  scheduler(options?: Partial<SchedulerOptions>): Scheduler;
}

function setup(t: TestContext, start = START): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'rivet-scheduler-test-'));
  const store = new SqliteStore(join(dir, 'rivet.db'));
  const schedulers: Scheduler[] = [];
  t.after(async () => {
    for (const s of schedulers) s.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fx: Fixture = {
    clock: new FakeClock(start),
    data: store.serverData(),
    runs: new Set(),
    fired: [],
    ticks: [],
    errors: [],
    fire: async (request) => {
      fx.fired.push({ ...request, at: fx.clock.now() });
      if (fx.runs.has(request.runId)) return 'exists';
      fx.runs.add(request.runId);
      return 'started';
    },
    scheduler: (options = {}) => {
      const s = new Scheduler({
        clock: fx.clock,
        data: fx.data,
        fire: (r) => fx.fire(r),
        onError: (id, error) => fx.errors.push({ id, error }),
        onTick: (e) => fx.ticks.push(e),
        ...options,
      });
      schedulers.push(s);
      return s;
    },
  };
  return fx;
}

const firedTicks = (fx: Fixture, id?: string): string[] =>
  fx.fired.filter((f) => id === undefined || f.schedule.id === id).map((f) => iso(f.tick));

describe('tickRunId', () => {
  test('is deterministic, has the shape of newRunId and differs per schedule and tick', () => {
    const tick = Date.UTC(2026, 2, 29, 7);
    assert.equal(tickRunId('a#0', tick), tickRunId('a#0', tick));
    assert.notEqual(tickRunId('a#0', tick), tickRunId('a#1', tick));
    assert.notEqual(tickRunId('a#0', tick), tickRunId('a#0', tick + 1000));
    assert.match(tickRunId('a#0', tick), /^[0-9a-z]{13}$/);
    assert.equal(tickRunId('a#0', tick).length, newRunId(tick).length);
    assert.ok(tickRunId('a#0', tick).startsWith(tick.toString(36)));
  });

  test('sorts by tick time', () => {
    const ticks = Array.from({ length: 50 }, (_, i) => START + i * 7 * MINUTE);
    const ids = ticks.map((t, i) => tickRunId(`w#${i % 3}`, t));
    assert.deepEqual([...ids].sort(), ids);
  });
});

describe('schedulesOf', () => {
  test('one mapping, a list, and no schedule', () => {
    assert.deepEqual(schedulesOf('w', { on: { schedule: { cron: '0 3 * * *' } } }), [
      { id: 'w#0', workflow: 'w', cron: '0 3 * * *', timezone: 'UTC', inputs: {}, catchUp: 'latest' },
    ]);
    const list = schedulesOf('w', {
      on: {
        schedule: [
          { cron: '0 3 * * *' },
          { cron: '0 4 * * *', timezone: 'Europe/Paris', inputs: { ref: 'main' }, catch_up: 'all' },
        ],
      },
    });
    assert.deepEqual(
      list.map((s) => [s.id, s.cron, s.timezone, s.inputs, s.catchUp]),
      [
        ['w#0', '0 3 * * *', 'UTC', {}, 'latest'],
        ['w#1', '0 4 * * *', 'Europe/Paris', { ref: 'main' }, 'all'],
      ],
    );
    assert.deepEqual(schedulesOf('w', {}), []);
    assert.deepEqual(schedulesOf('w', { on: {} }), []);
  });
});

describe('Scheduler: live ticks', () => {
  test('fires each tick at its UTC instant, in UTC and in Europe/Paris across the March DST change', async (t) => {
    const fx = setup(t, Date.UTC(2026, 2, 27, 12));
    const s = fx.scheduler();
    s.sync([
      def({ id: 'utc#0', workflow: 'utc', cron: '0 9 * * *' }),
      def({ id: 'paris#0', workflow: 'paris', cron: '0 9 * * *', timezone: 'Europe/Paris' }),
    ]);
    await s.start();
    await fx.clock.advance(4 * DAY);
    const days = ['2026-03-28', '2026-03-29', '2026-03-30', '2026-03-31'];
    assert.deepEqual(
      firedTicks(fx, 'utc#0'),
      days.map((d) => `${d}T09:00:00.000Z`),
    );
    // 09:00 CET is 08:00Z; from 29 March, 09:00 CEST is 07:00Z.
    assert.deepEqual(firedTicks(fx, 'paris#0'), [
      '2026-03-28T08:00:00.000Z',
      '2026-03-29T07:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
      '2026-03-31T07:00:00.000Z',
    ]);
    for (const f of fx.fired) {
      assert.equal(f.at, f.tick, 'fired at its scheduled instant');
      assert.equal(f.reason, 'tick');
      assert.equal(f.runId, tickRunId(f.schedule.id, f.tick));
    }
    assert.equal(fx.data.getSchedule('paris#0')?.lastTick, Date.UTC(2026, 2, 31, 7));
    assert.equal(s.get('paris#0')?.nextTick, Date.UTC(2026, 3, 1, 7));
    assert.deepEqual(fx.errors, []);
  });

  test('Europe/Paris across the October DST change, and a time that the change skips or repeats', async (t) => {
    const fx = setup(t, Date.UTC(2026, 9, 23, 12));
    const s = fx.scheduler();
    s.sync([
      def({ id: 'nine#0', workflow: 'nine', cron: '0 9 * * *', timezone: 'Europe/Paris' }),
      def({ id: 'night#0', workflow: 'night', cron: '30 2 * * *', timezone: 'Europe/Paris' }),
    ]);
    await s.start();
    await fx.clock.advance(3 * DAY);
    assert.deepEqual(firedTicks(fx, 'nine#0'), [
      '2026-10-24T07:00:00.000Z',
      '2026-10-25T08:00:00.000Z',
      '2026-10-26T08:00:00.000Z',
    ]);
    // 02:30 happens twice on 25 October (CEST, then CET): it fires once, at the first.
    assert.deepEqual(firedTicks(fx, 'night#0'), [
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  test('02:30 does not exist on 29 March in Paris: that day it fires at 03:00 CEST', async (t) => {
    const fx = setup(t, Date.UTC(2026, 2, 28, 12));
    const s = fx.scheduler();
    s.sync([def({ cron: '30 2 * * *', timezone: 'Europe/Paris' })]);
    await s.start();
    await fx.clock.advance(2 * DAY);
    assert.deepEqual(firedTicks(fx), ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  test('a six-field cron with seconds', async (t) => {
    const fx = setup(t);
    const s = fx.scheduler();
    s.sync([def({ cron: '*/15 * * * * *' })]);
    await s.start();
    await fx.clock.advance(MINUTE);
    assert.deepEqual(
      fx.fired.map((f) => f.tick - START),
      [15, 30, 45, 60].map((x) => x * SECOND),
    );
  });

  test('first sight starts from now: nothing in the past fires, and now is stored', async (t) => {
    const fx = setup(t, START + 30 * MINUTE);
    const s = fx.scheduler();
    s.sync([def({ catchUp: 'all' })]);
    await s.start();
    assert.equal(fx.fired.length, 0);
    assert.equal(fx.data.getSchedule('nightly#0')?.lastTick, START + 30 * MINUTE);
    assert.deepEqual(fx.clock.pending(), [START + HOUR]);
  });

  test('one timer per schedule, and none after stop (stop is idempotent)', async (t) => {
    const fx = setup(t);
    const s = fx.scheduler();
    s.sync([def(), def({ id: 'other#0', workflow: 'other', cron: '*/10 * * * *' })]);
    await s.start();
    await s.start();
    assert.deepEqual(fx.clock.pending(), [START + 10 * MINUTE, START + HOUR]);
    await fx.clock.advance(HOUR);
    assert.equal(fx.clock.pending().length, 2);
    s.stop();
    s.stop();
    assert.deepEqual(fx.clock.pending(), []);
    const before = fx.fired.length;
    await fx.clock.advance(DAY);
    assert.equal(fx.fired.length, before);
    assert.equal(s.get('other#0')?.nextTick, null);
  });
});

describe('Scheduler: catch-up after downtime', () => {
  const cases: [CatchUp, string[]][] = [
    ['none', []],
    ['latest', ['06:00']],
    ['all', ['02:00', '03:00', '04:00', '05:00', '06:00']],
  ];
  for (const [catchUp, expected] of cases) {
    test(`catch_up ${catchUp}`, async (t) => {
      const fx = setup(t);
      const a = fx.scheduler();
      a.sync([def({ catchUp })]);
      await a.start();
      await fx.clock.advance(HOUR);
      assert.deepEqual(firedTicks(fx), ['2026-01-01T01:00:00.000Z']);
      a.stop();
      await fx.clock.advance(5 * HOUR + 30 * MINUTE); // down from 01:00 to 06:30
      fx.fired.length = 0;

      const b = fx.scheduler();
      b.sync([def({ catchUp })]);
      await b.start();
      assert.deepEqual(
        firedTicks(fx),
        expected.map((h) => `2026-01-01T${h}:00.000Z`),
      );
      assert.ok(fx.fired.every((f) => f.reason === 'catch_up' && f.at === START + 6.5 * HOUR));
      // Every policy moves the last tick to the newest missed one.
      assert.equal(fx.data.getSchedule('nightly#0')?.lastTick, START + 6 * HOUR);
      if (catchUp === 'none') {
        assert.deepEqual(fx.ticks.at(-1), {
          scheduleId: 'nightly#0',
          tick: START + 6 * HOUR,
          reason: 'catch_up',
          runId: null,
          outcome: 'skipped',
        });
      }

      fx.fired.length = 0;
      await fx.clock.advance(HOUR);
      assert.deepEqual(firedTicks(fx), ['2026-01-01T07:00:00.000Z']);
      assert.equal(fx.fired[0]?.reason, 'tick');
    });
  }

  test(`catch_up all fires the first ${CATCH_UP_LIMIT} missed ticks, then only the newest, and says so`, async (t) => {
    const fx = setup(t);
    const a = fx.scheduler();
    a.sync([def({ cron: '* * * * * *', catchUp: 'all' })]);
    await a.start();
    a.stop();
    await fx.clock.advance(3000 * SECOND + 500);
    const b = fx.scheduler();
    b.sync([def({ cron: '* * * * * *', catchUp: 'all' })]);
    await b.start();
    const offsets = fx.fired.map((f) => (f.tick - START) / SECOND);
    assert.deepEqual(offsets, [...Array.from({ length: CATCH_UP_LIMIT }, (_, i) => i + 1), 3000]);
    assert.equal(fx.errors.length, 1);
    assert.match(String(fx.errors[0]?.error), /missed more than 1000 ticks/);
  });

  test('a paused schedule stays paused across a restart', async (t) => {
    const fx = setup(t);
    const a = fx.scheduler();
    a.sync([def()]);
    await a.start();
    a.pause('nightly#0');
    a.stop();
    await fx.clock.advance(3 * HOUR);
    const b = fx.scheduler();
    b.sync([def()]);
    await b.start();
    await fx.clock.advance(3 * HOUR);
    assert.equal(fx.fired.length, 0);
    assert.equal(b.get('nightly#0')?.paused, true);
    assert.equal(b.get('nightly#0')?.nextTick, null);
  });
});

describe('Scheduler: pause and resume', () => {
  const cases: [CatchUp, string[]][] = [
    ['none', []],
    ['latest', ['03:00']],
    ['all', ['01:00', '02:00', '03:00']],
  ];
  for (const [catchUp, expected] of cases) {
    test(`resume with catch_up ${catchUp}`, async (t) => {
      const fx = setup(t);
      const s = fx.scheduler();
      s.sync([def({ catchUp })]);
      await s.start();
      await fx.clock.advance(30 * MINUTE);
      const paused = s.pause('nightly#0');
      assert.equal(paused.paused, true);
      assert.equal(paused.nextTick, null);
      assert.deepEqual(fx.clock.pending(), []);
      await fx.clock.advance(3 * HOUR); // 03:30
      assert.equal(fx.fired.length, 0);

      const resumed = s.resume('nightly#0');
      assert.equal(resumed.paused, false);
      await settle();
      assert.deepEqual(
        firedTicks(fx),
        expected.map((h) => `2026-01-01T${h}:00.000Z`),
      );
      assert.ok(fx.fired.every((f) => f.reason === 'catch_up'));
      assert.equal(fx.data.getSchedule('nightly#0')?.lastTick, START + 3 * HOUR);
      assert.equal(s.get('nightly#0')?.nextTick, START + 4 * HOUR);

      fx.fired.length = 0;
      s.resume('nightly#0'); // not paused: nothing happens
      await settle();
      assert.equal(fx.fired.length, 0);
      await fx.clock.advance(HOUR);
      assert.deepEqual(firedTicks(fx), ['2026-01-01T04:00:00.000Z']);
    });
  }
});

/** A promise and its resolve function. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Scheduler: crash between fire and record', () => {
  for (const catchUp of ['none', 'latest', 'all'] as const) {
    test(`catch_up ${catchUp}: the tick fires again under the same run id and starts no second run`, async (t) => {
      const fx = setup(t);
      const started: string[] = [];
      const gate = deferred<FireResult>();
      // Scheduler A starts the run, but its fire() answers only after A is gone.
      const a = fx.scheduler({
        fire: (r) => {
          fx.runs.add(r.runId);
          started.push(r.runId);
          return gate.promise;
        },
      });
      a.sync([def({ catchUp })]);
      await a.start();
      await fx.clock.advance(HOUR);
      assert.deepEqual(started, [tickRunId('nightly#0', START + HOUR)]);
      a.stop();
      gate.resolve('started');
      await settle();
      assert.equal(fx.data.getSchedule('nightly#0')?.lastTick, START, 'A recorded nothing');

      await fx.clock.advance(10 * MINUTE);
      const b = fx.scheduler();
      b.sync([def({ catchUp })]);
      await b.start();
      if (catchUp === 'none') {
        assert.equal(fx.fired.length, 0);
      } else {
        assert.deepEqual(
          fx.fired.map((f) => [f.runId, f.reason]),
          [[tickRunId('nightly#0', START + HOUR), 'catch_up']],
        );
        assert.equal(fx.ticks.at(-1)?.outcome, 'exists');
      }
      assert.equal(fx.runs.size, 1, 'one run for the tick');
      assert.equal(fx.data.getSchedule('nightly#0')?.lastTick, START + HOUR);
    });
  }

  test('200 kills around tick boundaries with catch_up all: every tick starts exactly one run', async (t) => {
    const fx = setup(t);
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const startsPerTick = new Map<number, number>();
    const countStart = (r: FireRequest): void => {
      if (fx.runs.has(r.runId)) return;
      fx.runs.add(r.runId);
      startsPerTick.set(r.tick, (startsPerTick.get(r.tick) ?? 0) + 1);
    };
    const definition = def({ cron: '* * * * *', catchUp: 'all' });
    for (let kill = 0; kill < 200; kill++) {
      // A third of the lives die in fire() before the run starts, a third after it started but
      // before the tick is recorded; the rest die between fires.
      const death = (['before_start', 'after_start', 'between'] as const)[Math.floor(random() * 3)];
      const gate = deferred<FireResult>();
      const s = fx.scheduler({
        fire: async (r) => {
          if (death === 'before_start') return gate.promise;
          countStart(r);
          if (death === 'after_start') return gate.promise;
          return 'started';
        },
      });
      s.sync([definition]);
      void s.start();
      // Die just before, at, or just after a minute boundary, zero to two ticks later.
      const now = fx.clock.now();
      const boundary = (Math.floor(now / MINUTE) + 1 + Math.floor(random() * 3)) * MINUTE;
      const offset = [-1, 0, 1, 500][Math.floor(random() * 4)]!;
      await fx.clock.advance(Math.max(0, boundary + offset - now));
      s.stop();
      gate.resolve('started');
      await settle();
    }
    const recovery = fx.scheduler();
    recovery.sync([definition]);
    await recovery.start();
    const end = fx.clock.now();
    const expected: number[] = [];
    for (let m = START + MINUTE; m <= end; m += MINUTE) expected.push(m);
    assert.deepEqual(
      [...startsPerTick.keys()].sort((x, y) => x - y),
      expected,
      'no tick missed',
    );
    assert.ok(
      [...startsPerTick.values()].every((n) => n === 1),
      'no tick started twice',
    );
  });
});

describe('Scheduler: failed fires', () => {
  test('retries the same tick every 5 s until it starts', async (t) => {
    const fx = setup(t);
    let failures = 2;
    const s = fx.scheduler({
      fire: (r) => {
        fx.fired.push({ ...r, at: fx.clock.now() });
        if (failures-- > 0) return Promise.reject(new Error('store busy'));
        return Promise.resolve('started');
      },
    });
    s.sync([def()]);
    await s.start();
    await fx.clock.advance(HOUR + 30 * SECOND);
    assert.deepEqual(
      fx.fired.map((f) => [f.at - START - HOUR, f.runId]),
      [0, RETRY_DELAY_MS, 2 * RETRY_DELAY_MS].map((d) => [d, tickRunId('nightly#0', START + HOUR)]),
    );
    assert.equal(fx.errors.length, 2);
    assert.equal(fx.data.getSchedule('nightly#0')?.lastTick, START + HOUR);
    assert.equal(s.get('nightly#0')?.nextTick, START + 2 * HOUR);
  });

  test(`after ${FIRE_ATTEMPTS} failed attempts the tick is recorded as skipped and the next one is armed`, async (t) => {
    const fx = setup(t);
    let calls = 0;
    const s = fx.scheduler({
      fire: () => {
        calls++;
        return Promise.reject(new Error('down'));
      },
    });
    s.sync([def()]);
    await s.start();
    await fx.clock.advance(HOUR + 10 * MINUTE);
    assert.equal(calls, FIRE_ATTEMPTS);
    assert.equal(fx.errors.length, FIRE_ATTEMPTS);
    assert.match(String(fx.errors.at(-1)?.error), /skipped after 5 failed attempts/);
    assert.equal(fx.ticks.at(-1)?.outcome, 'skipped');
    assert.equal(fx.data.getSchedule('nightly#0')?.lastTick, START + HOUR);
    assert.equal(s.get('nightly#0')?.nextTick, START + 2 * HOUR);
  });
});

describe('Scheduler: sync', () => {
  test('adds, keeps, changes and removes schedules', async (t) => {
    const fx = setup(t);
    const s = fx.scheduler();
    const a = def({ id: 'a#0', workflow: 'a', cron: '0 * * * *' });
    const b = def({ id: 'b#0', workflow: 'b', cron: '30 * * * *' });
    s.sync([a]);
    await s.start();
    s.sync([a, b]);
    await settle();
    assert.deepEqual(
      s.list().map((i) => [i.id, iso(i.nextTick!)]),
      [
        ['a#0', '2026-01-01T01:00:00.000Z'],
        ['b#0', '2026-01-01T00:30:00.000Z'],
      ],
    );
    s.sync([{ ...a }, b]); // unchanged: the same timers
    await settle();
    assert.equal(fx.clock.pending().length, 2);
    await fx.clock.advance(HOUR);
    assert.deepEqual(firedTicks(fx), ['2026-01-01T00:30:00.000Z', '2026-01-01T01:00:00.000Z']);

    // Change b (every 10 minutes, new inputs), remove a. The change starts from now: the ticks
    // 00:40 to 01:00 of the new cron are not caught up.
    s.sync([{ ...b, cron: '*/10 * * * *', inputs: { x: 1 } }]);
    await settle();
    assert.equal(fx.fired.length, 2);
    assert.equal(fx.data.getSchedule('b#0')?.lastTick, START + HOUR);
    assert.deepEqual(
      s.list().map((i) => i.id),
      ['b#0'],
    );
    assert.equal(s.get('a#0'), undefined);
    assert.deepEqual(fx.clock.pending(), [START + HOUR + 10 * MINUTE]);
    fx.fired.length = 0;
    await fx.clock.advance(HOUR);
    assert.deepEqual(
      fx.fired.map((f) => [f.schedule.id, (f.tick - START - HOUR) / MINUTE, f.schedule.inputs]),
      [10, 20, 30, 40, 50, 60].map((m) => ['b#0', m, { x: 1 }]),
    );
  });

  test('a definition that cannot be scheduled is reported and left out', async (t) => {
    const fx = setup(t);
    const s = fx.scheduler();
    s.sync([def({ id: 'bad#0', workflow: 'bad', timezone: 'Nowhere/Land' }), def()]);
    await s.start();
    assert.deepEqual(
      s.list().map((i) => i.id),
      ['nightly#0'],
    );
    assert.equal(fx.errors[0]?.id, 'bad#0');
    assert.throws(() => s.sync([def(), def()]), /defined twice/);
  });
});

describe('Scheduler: trigger and serialisation', () => {
  test('trigger fires at once, reason manual, with a fresh id each time, and records no tick', async (t) => {
    const fx = setup(t, START + 10 * MINUTE);
    const s = fx.scheduler();
    s.sync([def({ inputs: { ref: 'main' } })]);
    await s.start();
    const first = await s.trigger('nightly#0');
    const second = await s.trigger('nightly#0');
    assert.notEqual(first.runId, second.runId);
    assert.deepEqual(
      fx.fired.map((f) => [f.runId, f.reason, f.tick, f.schedule.inputs]),
      [
        [first.runId, 'manual', START + 10 * MINUTE, { ref: 'main' }],
        [second.runId, 'manual', START + 10 * MINUTE, { ref: 'main' }],
      ],
    );
    assert.equal(first.runId.length, tickRunId('x', START).length);
    assert.equal(fx.data.getSchedule('nightly#0')?.lastTick, START + 10 * MINUTE);
    await assert.rejects(s.trigger('nope#0'), /unknown schedule "nope#0"/);
  });

  test('fires of one schedule never overlap', async (t) => {
    const fx = setup(t);
    let inFlight = 0;
    let most = 0;
    const gates: ((r: FireResult) => void)[] = [];
    const s = fx.scheduler({
      fire: (r) => {
        fx.fired.push({ ...r, at: fx.clock.now() });
        most = Math.max(most, ++inFlight);
        return new Promise<FireResult>((resolve) =>
          gates.push((v) => {
            inFlight--;
            resolve(v);
          }),
        );
      },
    });
    s.sync([def({ cron: '* * * * *' })]);
    await s.start();
    await fx.clock.advance(MINUTE); // the 00:01 tick is in flight
    const manual = s.trigger('nightly#0');
    await settle();
    assert.deepEqual(
      fx.fired.map((f) => f.reason),
      ['tick'],
      'the trigger waits for the tick',
    );
    gates.shift()!('started');
    await settle();
    assert.deepEqual(
      fx.fired.map((f) => f.reason),
      ['tick', 'manual'],
    );
    gates.shift()!('started');
    await manual;
    assert.equal(most, 1);
  });
});
