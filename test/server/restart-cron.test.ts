// S2 (RELIABILITY.md 4.2): cron ticks across kill -9 of `rivet server`. The server runs on the
// scaled test clock (RIVET_TEST_CLOCK, src/server/test-clock.ts): factor 60, so the schedule
// `* * * * *` ticks every real second, and time is continuous across restarts (every process
// gets the same base and real base). Kills are seeded and aimed at tick boundaries (within
// +-150 ms real), some at the restart itself (before /readyz); the server is restarted at once.
// Several servers run in parallel, each on its own data folder and port.
//
// The misfire policy under test is `catch_up: all` (src/triggers/scheduler.ts): every tick after
// the stored last tick fires, oldest first, each under its deterministic run id (tickRunId), and a
// tick re-fired after a crash finds its run and starts nothing. Afterwards, from the API
// (GET /v1/runs?trigger=schedule, every page, and each run's run.created event):
// - every run's run.created carries event.tick, and its id is tickRunId(schedule, tick);
// - 0 duplicate ticks (two runs for one tick);
// - 0 missed ticks: every minute from the first tick fired to the last has exactly one run;
// - misfires follow the policy: a tick whose boundary fell while no server process existed (from
//   the kill to the next spawn) fired as `catch_up`; the first tick is the first boundary after
//   the first start (first sight: nothing in the past fires);
// - every tick run succeeded (I2); PRAGMA integrity_check ok once each server is stopped.
//
// CI: 4 servers x 50 kills = 200 kills. RIVET_STRESS=N: 50 x N kills per server.
// RIVET_SEED=<n>: the first seed.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { settle, type TimerClock } from '../../src/engine/clock.ts';
import { parseTestClock, testClockFromEnv } from '../../src/server/test-clock.ts';
import { Scheduler, tickRunId } from '../../src/triggers/scheduler.ts';
import { percentile, prng, sleep } from '../crash/harness.ts';
import { until } from '../helpers/server.ts';
import {
  type ApiRun,
  assertNone,
  BASE_SEED,
  killAll,
  TERMINAL,
  listAll,
  RestartableServer,
  runEvents,
  STRESS,
} from './restart-helpers.ts';

after(killAll);

const SERVERS = 4;
const KILLS = 50 * STRESS;
const FACTOR = 60;
const MINUTE = 60_000;
/** Kills land within this many real ms of a tick boundary. */
const AROUND_MS = 150;
/** Share of kills aimed at the first RIGHT_AFTER_MS after a boundary (the tick fires then). */
const RIGHT_AFTER = 0.2;
/** Share aimed at the moment the server usually starts the tick's run (learned), + 0-4 ms. */
const AIM_AT_START = 0.4;
const RIGHT_AFTER_MS = 40;
/** Share of kills aimed at the restart (after the spawn, before ready) instead of a boundary. */
const EARLY = 0.15;
const EARLY_MS = 700;
const SCHEDULE = 'tick#0';

const WORKFLOW = `name: tick
on:
  schedule: { cron: "* * * * *", catch_up: all }
tasks:
  t:
    noop: {}
`;

/** The clock every server process shares: fake time = BASE + (Date.now() - REAL_BASE) * FACTOR. */
const REAL_BASE = Date.now();
const BASE = Date.UTC(2026, 0, 1, 0, 0, 0);
const fakeOf = (real: number): number => BASE + (real - REAL_BASE) * FACTOR;
const realOf = (fake: number): number => REAL_BASE + (fake - BASE) / FACTOR;
const CLOCK_ENV = { RIVET_TEST_CLOCK: `${BASE}:${REAL_BASE}:${FACTOR}` };

interface Outcome {
  readonly seed: number;
  readonly kills: number;
  readonly early: number;
  readonly ticks: number;
  readonly catchUps: number;
  /** Ticks whose boundary fell while no server process existed (they must be catch_up). */
  readonly downTicks: number;
  /** Kills that came after a tick's run started and before the tick was recorded. */
  readonly unrecorded: number;
  /** Real ms from a boundary to the creation of its tick's run, for the runs fired live. */
  readonly lags: number[];
  readonly restartMs: number[];
}

/**
 * Read from the store of a killed server: did the kill come after a tick's run started and before
 * the tick was recorded? (The restart then fires that tick again and must find its run.)
 */
async function unrecordedTick(server: RestartableServer): Promise<boolean> {
  const store = new SqliteStore(join(server.data, 'rivet.db'));
  try {
    const last = store.serverData().getSchedule(SCHEDULE)?.lastTick ?? null;
    if (last === null) return false;
    return (await store.getRun(tickRunId(SCHEDULE, Math.floor(last / MINUTE) * MINUTE + MINUTE))) !== undefined;
  } finally {
    await store.close();
  }
}

/** The newest tick runs (GET /v1/runs is newest first). */
async function listRecent(server: RestartableServer): Promise<ApiRun[]> {
  const res = await server.api('GET', '/v1/runs?trigger=schedule&limit=5');
  return res.status === 200 ? (res.body.items as ApiRun[]) : [];
}

async function oneServer(seed: number): Promise<Outcome> {
  const random = prng(seed);
  const server = new RestartableServer(`s2-${seed}`, { 'tick.yaml': WORKFLOW }, CLOCK_ENV);
  const context = (): string => `seed ${seed} (rerun with RIVET_SEED=${seed}); data ${server.data}\n${server.stderr()}`;
  /** Real intervals with no server process: [kill, next spawn]. */
  const down: [number, number][] = [];
  let unrecorded = 0;
  const lags = new Map<string, number>();
  const firstLaunch = Date.now();
  await server.start();
  const firstReady = Date.now();
  let early = 0;
  while (server.kills < KILLS) {
    // The next boundary the running server will meet, and a kill within AROUND_MS of it.
    let boundary = Math.ceil(fakeOf(Date.now()) / MINUTE) * MINUTE;
    while (realOf(boundary) - AROUND_MS < Date.now() + 20) boundary += MINUTE;
    // How long after a boundary this server creates the tick's run (real ms, learned from the
    // runs it created live): some kills aim at the few ms between that and the tick's record.
    for (const r of await listRecent(server)) {
      const lag = (Date.parse(r.createdAt) % MINUTE) / FACTOR;
      if (lag < 30 && !lags.has(r.id)) lags.set(r.id, lag);
    }
    const lag = percentile([...lags.values()], 50);
    const aim = random();
    const offset =
      aim < AIM_AT_START && lags.size > 0
        ? lag + random() * 4
        : aim < AIM_AT_START + RIGHT_AFTER
          ? random() * RIGHT_AFTER_MS
          : (random() * 2 - 1) * AROUND_MS;
    await sleep(realOf(boundary) + offset - Date.now());
    let killedAt = Date.now();
    await server.kill();
    if (await unrecordedTick(server)) unrecorded++;
    // Some restarts are killed themselves, during start-up, recovery and catch-up.
    while (server.kills < KILLS && random() < EARLY) {
      down.push([killedAt, Date.now()]);
      await server.launch();
      await sleep(random() * EARLY_MS);
      killedAt = Date.now();
      await server.kill();
      if (await unrecordedTick(server)) unrecorded++;
      early++;
    }
    down.push([killedAt, Date.now()]);
    await server.start();
  }
  // Let the last server fire two ticks live, then wait until every tick run has ended.
  const lastBoundary = Math.ceil(fakeOf(Date.now()) / MINUTE) * MINUTE + MINUTE;
  await until(
    async () => {
      const s = await server.api('GET', `/v1/schedules/${encodeURIComponent(SCHEDULE)}`);
      return s.status === 200 && s.body.lastTick !== null && Date.parse(s.body.lastTick) >= lastBoundary
        ? true
        : undefined;
    },
    `the schedule to record the tick of ${new Date(lastBoundary).toISOString()} (seed ${seed})`,
    30_000,
  );
  const runs = await until(
    async () => {
      const list = await listAll(server.api, '/v1/runs?trigger=schedule');
      return list.every((r) => TERMINAL.has(r.state)) ? list : undefined;
    },
    `every tick run to end (seed ${seed})`,
    60_000,
  ).catch(async (error: Error) => {
    const list = await listAll(server.api, '/v1/runs?trigger=schedule').catch(() => []);
    const stuck = list.filter((r) => !TERMINAL.has(r.state));
    const sample = stuck[0] === undefined ? [] : await runEvents(server.api, stuck[0].id).catch(() => []);
    throw new Error(
      `${error.message}: ${stuck.length} of ${list.length} tick runs not ended: ${stuck.map((r) => `${r.id}:${r.state}`).join(', ')}\n` +
        `events of ${stuck[0]?.id}: ${JSON.stringify(sample)}\n${context()}`,
    );
  });

  const problems: string[] = [];
  const byTick = new Map<number, string[]>();
  const reasons = new Map<number, string>();
  for (const r of runs) {
    if (r.state !== 'succeeded') problems.push(`I2: tick run ${r.id} ended ${r.state}: ${r.error}`);
    const created = (await runEvents(server.api, r.id)).find((e) => e.type === 'run.created');
    const event = created?.data?.event as { schedule?: string; tick?: unknown; reason?: string } | undefined;
    if (typeof event?.tick !== 'string') {
      problems.push(`run ${r.id}: run.created has no event.tick (${JSON.stringify(created?.data)})`);
      continue;
    }
    const tick = Date.parse(event.tick);
    if (event.schedule !== SCHEDULE) problems.push(`run ${r.id}: schedule ${event.schedule}`);
    if (r.id !== tickRunId(SCHEDULE, tick)) problems.push(`run ${r.id} of tick ${event.tick} is not tickRunId`);
    byTick.set(tick, [...(byTick.get(tick) ?? []), r.id]);
    reasons.set(tick, event.reason ?? '');
  }
  await server.stop();
  const integrity = await server.integrity();
  assert.equal(integrity, 'ok', `PRAGMA integrity_check: ${integrity}\n${context()}`);

  const ticks = [...byTick.keys()].sort((a, b) => a - b);
  for (const [tick, ids] of byTick) {
    if (ids.length > 1) problems.push(`duplicate tick ${new Date(tick).toISOString()}: runs ${ids.join(', ')}`);
  }
  const first = ticks[0]!;
  const last = ticks.at(-1)!;
  for (let t = first; t <= last; t += MINUTE) {
    if (!byTick.has(t)) problems.push(`missed tick ${new Date(t).toISOString()} (catch_up all)`);
  }
  for (const t of ticks) if (t % MINUTE !== 0) problems.push(`tick ${new Date(t).toISOString()} is not a minute`);
  // First sight: the first tick is the first boundary after the first start, nothing before it.
  const firstExpected = [
    Math.ceil(fakeOf(firstLaunch) / MINUTE) * MINUTE,
    Math.ceil(fakeOf(firstReady) / MINUTE) * MINUTE,
  ];
  if (first < firstExpected[0]! || first > firstExpected[1]!) {
    problems.push(
      `first tick ${new Date(first).toISOString()}: expected the first boundary after the first start (${firstExpected.map((t) => new Date(t).toISOString()).join(' or ')})`,
    );
  }
  if (last < lastBoundary)
    problems.push(`last tick ${new Date(last).toISOString()} before ${new Date(lastBoundary).toISOString()}`);
  // Misfires: a boundary that fell while no process existed cannot have fired live.
  let downTicks = 0;
  for (const t of ticks) {
    const real = realOf(t);
    if (!down.some(([from, to]) => real > from + 5 && real < to - 5)) continue;
    downTicks++;
    if (reasons.get(t) !== 'catch_up') {
      problems.push(`tick ${new Date(t).toISOString()} fell while the server was down but fired as ${reasons.get(t)}`);
    }
  }
  assertNone(
    problems,
    () => `ticks ${ticks.map((t) => new Date(t).toISOString().slice(11, 16)).join(' ')}\n${context()}`,
  );
  const catchUps = [...reasons.values()].filter((r) => r === 'catch_up').length;
  server.cleanup();
  return {
    seed,
    kills: server.kills,
    early,
    ticks: ticks.length,
    catchUps,
    downTicks,
    unrecorded,
    lags: [...lags.values()],
    restartMs: server.restartMs,
  };
}

test(`S2: cron ticks around kill -9, ${SERVERS} servers x ${KILLS} kills, catch_up all`, async () => {
  const t0 = performance.now();
  const seeds = Array.from({ length: SERVERS }, (_, i) => (BASE_SEED + 1000 + i) >>> 0);
  console.log(`S2: seeds ${seeds.join(', ')}; clock ${CLOCK_ENV.RIVET_TEST_CLOCK}`);
  const outcomes = await Promise.all(seeds.map((seed) => oneServer(seed)));
  for (const o of outcomes) {
    console.log(
      `S2 seed ${o.seed}: ${o.kills} kills (${o.early} during a restart), ${o.ticks} ticks, 0 duplicate, 0 missed, ` +
        `${o.catchUps} fired as catch_up (${o.downTicks} fell while down, all catch_up), ${o.unrecorded} kills between a tick's run start and its record (re-fired, deduplicated); tick run created ${o.lags.length > 0 ? percentile(o.lags, 50).toFixed(1) : '-'} ms (p50) / ${o.lags.length > 0 ? percentile(o.lags, 90).toFixed(1) : '-'} ms (p90) after the boundary`,
    );
  }
  const kills = outcomes.reduce((s, o) => s + o.kills, 0);
  const restarts = outcomes.flatMap((o) => o.restartMs);
  console.log(
    `S2: ${kills} kills (${outcomes.reduce((s, o) => s + o.unrecorded, 0)} between a tick's run start and its record), ` +
      `${outcomes.reduce((s, o) => s + o.ticks, 0)} ticks, 0 duplicate ticks, 0 missed ticks, ` +
      `wall ${Math.round((performance.now() - t0) / 1000)} s; restart to ready p50 ${Math.round(percentile(restarts, 50))} ms, ` +
      `max ${Math.round(percentile(restarts, 100))} ms`,
  );
  assert.equal(kills, SERVERS * KILLS);
});

// The cause of a missed tick S2 found: a restart's catch-up computes its missed ticks, then fires
// them; a boundary that passed while those fires were in flight was skipped (the next timer was
// armed after `now`). Deterministic: a clock moved by hand, a fire that takes 200 ms.
test('S2: a tick that falls due while catch-up fires are in flight still fires (catch_up all)', async () => {
  let now = Date.UTC(2026, 0, 1, 0, 2, 59, 900);
  const timers: { at: number; fn: () => void; off: boolean }[] = [];
  const clock: TimerClock = {
    now: () => now,
    setTimer(fn, ms) {
      const t = { at: now + ms, fn, off: false };
      timers.push(t);
      return () => void (t.off = true);
    },
    sleep: () => Promise.reject(new Error('no retries here')),
  };
  const runDue = async (): Promise<void> => {
    for (;;) {
      await settle();
      const due = timers.filter((t) => !t.off && t.at <= now).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) return;
      due.off = true;
      due.fn();
    }
  };
  const state = new Map<string, { paused: boolean; lastTick: number | null }>([
    [SCHEDULE, { paused: false, lastTick: Date.UTC(2026, 0, 1, 0, 0) }],
  ]);
  const fired: string[] = [];
  const scheduler = new Scheduler({
    clock,
    data: {
      getSchedule: (id) => (state.has(id) ? { id, ...state.get(id)! } : undefined),
      setScheduleTick: (id, tick) => {
        const s = state.get(id) ?? { paused: false, lastTick: null };
        state.set(id, { ...s, lastTick: Math.max(tick, s.lastTick ?? tick) });
      },
      setSchedulePaused: (id, paused) => state.set(id, { lastTick: state.get(id)?.lastTick ?? null, paused }),
    },
    fire: async ({ tick, reason }) => {
      fired.push(`${new Date(tick).toISOString().slice(11, 16)} ${reason}`);
      if (tick === Date.UTC(2026, 0, 1, 0, 2)) now += 200; // this fire ends after 00:03
      return 'started';
    },
    onError: (_id, error) => assert.fail(String(error)),
  });
  scheduler.sync([{ id: SCHEDULE, workflow: 'tick', cron: '* * * * *', timezone: 'UTC', inputs: {}, catchUp: 'all' }]);
  await scheduler.start();
  await runDue();
  now = Date.UTC(2026, 0, 1, 0, 4);
  await runDue();
  scheduler.stop();
  assert.deepEqual(fired, ['00:01 catch_up', '00:02 catch_up', '00:03 catch_up', '00:04 tick']);
});

test('RIVET_TEST_CLOCK: parsed strictly, continuous across processes, timers never fire early', async () => {
  assert.equal(testClockFromEnv({}), null);
  assert.equal(parseTestClock(''), null);
  assert.deepEqual(parseTestClock('1000:2000:60'), { base: 1000, realBase: 2000, factor: 60 });
  assert.deepEqual(parseTestClock('1000:60'), { base: 1000, realBase: 1000, factor: 60 });
  for (const bad of ['x', '1:2:3:4', '1:0', '1:2:-1', 'a:b:c'])
    assert.throws(() => parseTestClock(bad), /RIVET_TEST_CLOCK/);
  // Two processes given the same value read the same time line (a restart does not move it back).
  const spec = `${BASE}:${REAL_BASE}:${FACTOR}`;
  const before = testClockFromEnv({ RIVET_TEST_CLOCK: spec })!.now();
  const later = testClockFromEnv({ RIVET_TEST_CLOCK: spec })!;
  assert.ok(later.now() >= before);
  assert.ok(Math.abs(later.now() - fakeOf(Date.now())) <= FACTOR * 2);
  // A one-minute timer fires (in about a real second) once the scaled now has reached its deadline.
  const deadline = later.now() + MINUTE;
  const firedAt = await new Promise<number>((resolve) => later.setTimer(() => resolve(later.now()), MINUTE));
  assert.ok(firedAt >= deadline, `fired at ${firedAt}, before its deadline ${deadline}`);
  const cancelled = new AbortController();
  const sleeping = later.sleep(MINUTE, cancelled.signal);
  cancelled.abort();
  await assert.rejects(sleeping);
});
