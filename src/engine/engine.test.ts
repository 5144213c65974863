/**
 * The engine end to end on a real SQLite file, a FakeClock and a controllable `probe` kind
 * (test/helpers/engine.ts): run outcomes and outputs, for_each, retries and backoff, timeouts,
 * cancellation, capacity, cache, assert and outputs, artifacts, resume (from a task, an item, a
 * child run's task), version pinning, crash recovery by a second engine, poisoned runs,
 * approvals, and secrets kept out of every byte the store writes (RELIABILITY.md 4.8).
 * Nothing sleeps: tests wait on events and gates, and move time with clock.advance.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, test } from 'node:test';
import { z } from 'zod';
import { advanceUntil, type EngineFixture, makeEngine, type MakeEngineOptions } from '../../test/helpers/engine.ts';
import { type Kind, TaskFailure } from '../kinds/types.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { settle } from './clock.ts';
import { MAX_OUTPUT_BYTES } from './execute.ts';
import { MAX_FANOUT } from './run-machine.ts';
import type { EngineEvent, RunOutcome } from './types.ts';

const open: EngineFixture[] = [];

/** A fixture closed after the test. */
function fixture(options: MakeEngineOptions = {}): EngineFixture {
  const fx = makeEngine(options);
  open.push(fx);
  return fx;
}

afterEach(async () => {
  for (const fx of open.splice(0)) await fx.close();
});

const is =
  (type: string, task?: string, item?: number | null) =>
  (e: EngineEvent): boolean =>
    e.type === type && (task === undefined || e.task === task) && (item === undefined || e.item === item);

/** `task.status` of every task of a run, from its store events (the last word per task/item). */
async function states(fx: EngineFixture, runId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fx.store.readEvents(runId)) {
    if (e.task === null || !e.type.startsWith('task.') || e.type === 'task.expanded') continue;
    const key = e.item === null ? e.task : `${e.task}[${e.item}]`;
    out[key] = e.type.slice(5);
  }
  return out;
}

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('run outcome and outputs', () => {
  test('needs, when and if: a failure handler runs, the run still fails, outputs are computed', async () => {
    const fx = fixture();
    const h = await fx.startFrom(
      `
name: outcome
inputs:
  deploy: { type: boolean, default: false }
tasks:
  build:
    probe: { result: { image: "app:1" } }
  test:
    needs: [build]
    probe: { fail: { message: tests failed } }
  deploy:
    needs: [test]
    probe: {}
  notify:
    needs: [test]
    when: failure
    probe: { result: { sent: true } }
  optional:
    needs: [build]
    if: \${{ inputs.deploy }}
    probe: {}
    outputs:
      url: \${{ "https://x" }}
  report:
    needs: [deploy, notify]
    when: always
    probe: {}
outputs:
  image: \${{ tasks.build.outputs.image }}
  notified: \${{ tasks.notify.outputs.sent }}
  url: \${{ tasks.optional.outputs.url }}
`,
    );
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.equal(o.error, 'task test failed: tests failed');
    assert.deepEqual(plain(o.outputs), { image: 'app:1', notified: true, url: null });
    assert.deepEqual(await states(fx, h.runId), {
      build: 'succeeded',
      test: 'failed',
      deploy: 'skipped',
      notify: 'succeeded',
      optional: 'skipped',
      report: 'succeeded',
    });
    const record = await fx.store.getRun(h.runId);
    assert.equal(record?.state, 'failed');
    assert.equal(record?.error, o.error);
    assert.deepEqual(plain(record?.outputs), plain(o.outputs));
    assert.equal(record?.owner, null, 'a finished run is released');
  });

  test('listeners see the same events as the store, in order, and a throwing listener breaks nothing', async () => {
    const fx = fixture();
    fx.engine.on({
      event: () => {
        throw new Error('listener bug');
      },
    });
    const h = await fx.startFrom(`name: ok\ntasks:\n  a:\n    probe: {}\n  b:\n    needs: [a]\n    noop:\n`);
    assert.equal((await h.done).state, 'succeeded');
    const stored = (await fx.store.readEvents(h.runId)).map((e) => `${e.type} ${e.task ?? ''}`);
    assert.deepEqual(
      fx.eventsOf(h.runId).map((e) => `${e.type} ${e.task ?? ''}`),
      stored,
    );
    assert.deepEqual(stored, [
      'run.created ',
      'run.started ',
      'task.started a',
      'task.succeeded a',
      'task.started b',
      'task.succeeded b',
      'run.succeeded ',
    ]);
  });
});

describe('for_each', () => {
  test('a list from inputs: item and index in scope, outputs become a list', async () => {
    const fx = fixture();
    const h = await fx.startFrom(
      `
name: fan
inputs:
  regions: { type: list, default: [eu, us, ap] }
tasks:
  each:
    for_each: \${{ inputs.regions }}
    probe: { result: { region: "\${{ item }}", at: "\${{ index }}" } }
outputs:
  all: \${{ tasks.each.outputs }}
`,
    );
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(plain(o.outputs), {
      all: [
        { region: 'eu', at: 0 },
        { region: 'us', at: 1 },
        { region: 'ap', at: 2 },
      ],
    });
    assert.deepEqual(
      fx.probe.of('each').map((c) => [c.item, c.idempotencyKey]),
      [
        [0, `${h.runId}/each/0`],
        [1, `${h.runId}/each/1`],
        [2, `${h.runId}/each/2`],
      ],
    );
  });

  test('a literal list, and concurrency: never more than N items run at once', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: fan
tasks:
  each:
    for_each: [1, 2, 3, 4, 5, 6]
    concurrency: 2
    probe: { gate: g, result: { n: "\${{ item }}" } }
`);
    await fx.probe.gates.arrived('g', 2);
    await settle();
    assert.equal(fx.probe.gates.waiting('g').length, 2, 'a third item did not start');
    for (let released = 0; released < 6; released++) {
      fx.probe.gates.release('g');
      await settle();
      assert.ok(fx.probe.gates.waiting('g').length <= 2);
    }
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    assert.equal(fx.probe.count('each'), 6);
    assert.equal(fx.probe.maxRunning.get('each'), 2);
  });

  test('an empty list succeeds at once; dependents run', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: fan
inputs:
  xs: { type: list, default: [] }
tasks:
  each:
    for_each: \${{ inputs.xs }}
    probe: {}
  after:
    needs: [each]
    probe: { result: { n: "\${{ size(tasks.each.outputs) }}" } }
outputs:
  n: \${{ tasks.after.outputs.n }}
`);
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(plain(o.outputs), { n: 0 });
    assert.equal(fx.probe.count('each'), 0);
  });

  test('a value that is not a list fails the task with an expression error', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: fan
inputs:
  xs: { type: object, default: { a: 1 } }
tasks:
  each:
    for_each: \${{ inputs.xs }}
    probe: {}
`);
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.equal(o.error, 'task each failed: for_each: expected a list, got a map');
  });

  test(`a list over MAX_FANOUT items is refused before any item runs (RELIABILITY 4.10)`, async () => {
    const fx = fixture();
    const h = await fx.startFrom(
      `name: fan\ninputs:\n  xs: { type: list }\ntasks:\n  each:\n    for_each: \${{ inputs.xs }}\n    probe: {}\n`,
      { xs: Array.from({ length: MAX_FANOUT + 1 }, (_, i) => i) },
    );
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.match(o.error!, /more than the limit of 10000/);
    assert.equal(fx.probe.count('each'), 0);
    const failed = fx.eventsOf(h.runId, 'task.failed')[0]!;
    assert.equal((failed.data!.error as { reason: string }).reason, 'limit');
  });
});

describe('retries', () => {
  /** retry_at minus the failure time of every retried failure of a run. */
  const waits = (fx: EngineFixture, runId: string): number[] =>
    fx
      .eventsOf(runId, 'task.failed')
      .filter((e) => typeof e.data?.retry_at === 'number')
      .map((e) => (e.data!.retry_at as number) - e.at);

  test('fixed backoff: the next attempt starts exactly when the delay has passed', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: retry
tasks:
  t:
    retry: { attempts: 3, backoff: fixed, delay: 10s }
    probe: { fail: { times: 2 }, result: { ok: true } }
`);
    await fx.waitFor(is('task.failed', 't'));
    assert.equal(fx.probe.count('t'), 1);
    await fx.clock.advance(9_999);
    assert.equal(fx.probe.count('t'), 1, 'not before the delay');
    await fx.clock.advance(1);
    assert.equal(fx.probe.count('t'), 2);
    await fx.clock.advance(10_000);
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(
      fx.probe.of('t').map((c) => [c.attempt, c.idempotencyKey]),
      [
        [1, `${h.runId}/t`],
        [2, `${h.runId}/t`],
        [3, `${h.runId}/t`],
      ],
    );
    assert.deepEqual(waits(fx, h.runId), [10_000, 10_000]);
  });

  test('exponential backoff with jitter (random 0.5) and max_delay', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: retry
tasks:
  t:
    retry: { attempts: 5, backoff: exponential, delay: 1s, max_delay: 3s }
    probe: { fail: { message: down } }
`);
    const o = await advanceUntil(fx, is('run.failed'), 250).then(() => h.done);
    assert.equal(o.state, 'failed');
    assert.equal(fx.probe.count('t'), 5);
    // 1s, 2s, 3s (capped), 3s: each with equal jitter at 0.5 → 3/4 of the delay.
    assert.deepEqual(waits(fx, h.runId), [750, 1500, 2250, 2250]);
  });

  test('retry.on: a 404 is not retried when only 5xx is', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: retry
tasks:
  t:
    retry: { attempts: 3, on: [5xx] }
    probe: { fail: { reason: http_status, status: 404, message: not found } }
`);
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.equal(fx.probe.count('t'), 1);
  });

  test('retry.on: 503 and exit codes retry when listed', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: retry
tasks:
  web:
    retry: { attempts: 2, on: [5xx], delay: 1s }
    probe: { fail: { reason: http_status, status: 503, times: 1 } }
  script:
    retry: { attempts: 2, on: [exit_code], delay: 1s }
    probe: { fail: { reason: exit_code, exit_code: 2, times: 1 } }
  slow:
    retry: { attempts: 2, on: [timeout], delay: 1s }
    probe: { fail: { reason: error, times: 1 } }
`);
    await advanceUntil(fx, is('run.failed'), 500);
    const o = await h.done;
    assert.equal(fx.probe.count('web'), 2);
    assert.equal(fx.probe.count('script'), 2);
    assert.equal(fx.probe.count('slow'), 1, 'an error is not a timeout');
    assert.equal(o.error, 'task slow failed: attempt 1 failed');
  });

  test('a 429 with Retry-After waits as long as the server asked', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: retry
tasks:
  t:
    retry: { attempts: 2, on: [429], delay: 1s }
    probe: { fail: { reason: http_status, status: 429, retry_after_ms: 60000, times: 1 } }
`);
    await fx.waitFor(is('task.failed', 't'));
    await fx.clock.advance(59_999);
    assert.equal(fx.probe.count('t'), 1);
    await fx.clock.advance(1);
    assert.equal((await h.done).state, 'succeeded');
    assert.deepEqual(waits(fx, h.runId), [60_000]);
  });

  test('assertions, expression errors and non-retryable failures are never retried', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: retry
tasks:
  asserting:
    retry: { attempts: 3 }
    probe: { result: { rows: 0 } }
    assert:
      - \${{ result.rows > 0 }}
  expression:
    retry: { attempts: 3 }
    probe: { result: { rows: 0 } }
    outputs:
      bad: \${{ result.rows.nope }}
  fatal:
    retry: { attempts: 3 }
    probe: { fail: { retryable: false, message: bad spec } }
`);
    const o = await h.done;
    assert.equal(o.state, 'failed');
    for (const t of ['asserting', 'expression', 'fatal']) assert.equal(fx.probe.count(t), 1, t);
    const reasons = Object.fromEntries(
      fx.eventsOf(h.runId, 'task.failed').map((e) => [e.task, (e.data!.error as { reason: string }).reason]),
    );
    assert.deepEqual(reasons, { asserting: 'assertion', expression: 'expression', fatal: 'error' });
  });
});

describe('timeouts, cancellation and capacity', () => {
  test('a task timeout aborts the attempt with reason timeout; retry.on: [timeout] retries it', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: slow
tasks:
  t:
    timeout: 5s
    retry: { attempts: 2, on: [timeout], delay: 1s }
    probe: { gate: never }
`);
    await fx.probe.gates.arrived('never', 1);
    await fx.clock.advance(4_999);
    assert.equal(fx.probe.of('t')[0]!.aborted, undefined);
    await fx.clock.advance(1);
    assert.equal(fx.probe.of('t')[0]!.aborted, 'timeout');
    await advanceUntil(fx, is('run.failed'), 1000);
    const o = await h.done;
    assert.equal(fx.probe.count('t'), 2);
    assert.equal(o.error, 'task t failed: timed out');
    const reasons = fx.eventsOf(h.runId, 'task.failed').map((e) => (e.data!.error as { reason: string }).reason);
    assert.deepEqual(reasons, ['timeout', 'timeout']);
  });

  test('a run timeout cancels what is pending, aborts what runs, and fails the run', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: slow
timeout: 1m
tasks:
  a:
    probe: { gate: never }
  b:
    needs: [a]
    probe: {}
`);
    await fx.probe.gates.arrived('never');
    await fx.clock.advance(60_000);
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.equal(o.error, 'run timed out after 1m');
    assert.equal(fx.probe.of('a')[0]!.aborted, 'timeout');
    assert.deepEqual(await states(fx, h.runId), { a: 'cancelled', b: 'cancelled' });
    assert.equal((await fx.store.getRun(h.runId))?.state, 'failed');
  });

  test('cancelling a run: running kinds see the signal aborted, pending tasks are cancelled', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: cancel
tasks:
  a:
    probe: { gate: never }
  each:
    for_each: [1, 2, 3]
    concurrency: 1
    probe: { gate: never }
  b:
    needs: [a]
    probe: {}
`);
    await fx.probe.gates.arrived('never', 2);
    assert.equal(await fx.engine.cancelRun(h.runId, 'stop it'), 'cancelling');
    const o = await h.done;
    assert.equal(o.state, 'cancelled');
    assert.equal(o.error, 'stop it');
    assert.deepEqual(
      fx.probe.calls.map((c) => c.aborted),
      ['cancelled', 'cancelled'],
    );
    assert.deepEqual(await states(fx, h.runId), {
      a: 'cancelled',
      'each[0]': 'cancelled',
      'each[1]': 'cancelled',
      'each[2]': 'cancelled',
      b: 'cancelled',
    });
    assert.equal(fx.probe.count('b'), 0);
    assert.equal((await fx.store.getRun(h.runId))?.state, 'cancelled');
    await assert.rejects(fx.engine.cancelRun(h.runId), /already cancelled/);
  });

  test('engine capacity: no more units run at once than the limit, across runs', async () => {
    const fx = fixture({ overrides: { capacity: 2 } });
    const yaml = `name: busy\ntasks:\n  a:\n    probe: { gate: g }\n  b:\n    probe: { gate: g }\n  c:\n    probe: { gate: g }\n`;
    const h1 = await fx.startFrom(yaml);
    const h2 = await fx.startFrom(yaml);
    await fx.probe.gates.arrived('g', 2);
    await settle();
    assert.equal(fx.probe.gates.waiting('g').length, 2);
    assert.equal(fx.engine.busy, 2);
    fx.probe.gates.open('g');
    assert.equal((await h1.done).state, 'succeeded');
    assert.equal((await h2.done).state, 'succeeded');
    assert.equal(fx.probe.calls.length, 6);
    assert.equal(fx.probe.maxTotal, 2);
    assert.equal(fx.engine.busy, 0);
  });

  test('run capacity: one run gets no more units at once than its share', async () => {
    const fx = fixture({ overrides: { capacity: 10, runCapacity: 2 } });
    const yaml = `name: share\ntasks:\n  a:\n    probe: { gate: g }\n  b:\n    probe: { gate: g }\n  c:\n    probe: { gate: g }\n`;
    const h1 = await fx.startFrom(yaml);
    const h2 = await fx.startFrom(yaml);
    await fx.probe.gates.arrived('g', 4);
    await settle();
    assert.equal(fx.probe.gates.waiting('g').length, 4, 'two per run, though the engine has 10 slots');
    fx.probe.gates.open('g');
    assert.equal((await h1.done).state, 'succeeded');
    assert.equal((await h2.done).state, 'succeeded');
    assert.equal(fx.probe.maxTotal, 4);
  });

  test('a decision for a task that is not an approval, or an item of a task without for_each, is refused', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: decide
tasks:
  approve:
    approval: { message: go? }
  work:
    needs: [approve]
    probe: { result: { done: true } }
`);
    const d = { decision: 'approve' as const, approver: 'alice', comment: '', fields: {} };
    assert.equal(fx.engine.decide(h.runId, 'nope', null, d), false);
    assert.equal(fx.engine.decide(h.runId, 'work', null, d), false);
    assert.equal(fx.engine.decide(h.runId, 'approve', 0, d), false);
    assert.equal(fx.engine.decide('no-such-run', 'approve', null, d), false);
    assert.equal(fx.engine.decide(h.runId, 'approve', null, d), true);
    assert.equal((await h.done).state, 'succeeded');
  });

  test('a waiting approval holds no engine slot', async () => {
    const fx = fixture({ overrides: { capacity: 1 } });
    const h = await fx.startFrom(`
name: waiting
tasks:
  approve:
    approval: { message: go? }
  work:
    probe: { result: { done: true } }
`);
    await fx.waitFor(is('task.succeeded', 'work'));
    assert.equal(fx.engine.busy, 0);
    fx.engine.decide(h.runId, 'approve', null, { decision: 'approve', approver: 'alice', comment: '', fields: {} });
    assert.equal((await h.done).state, 'succeeded');
  });
});

describe('concurrency keys across runs', () => {
  test('a second run with a held key waits queued until the first ends', async () => {
    const fx = fixture();
    const yaml = `
name: deploy
inputs:
  env: { type: string }
concurrency: { key: "deploy-\${{ inputs.env }}", limit: 1 }
tasks:
  t:
    probe: { gate: "g-\${{ run.id }}" }
`;
    const first = await fx.startFrom(yaml, { env: 'prod' });
    const second = await fx.startFrom(yaml, { env: 'prod' });
    const other = await fx.startFrom(yaml, { env: 'dev' });
    await fx.probe.gates.arrived(`g-${first.runId}`);
    await fx.probe.gates.arrived(`g-${other.runId}`);
    assert.equal((await fx.store.getRun(second.runId))?.state, 'queued');
    assert.equal(fx.eventsOf(second.runId, 'run.started').length, 0);
    fx.probe.gates.open(`g-${first.runId}`);
    fx.probe.gates.open(`g-${other.runId}`);
    await first.done;
    await fx.probe.gates.arrived(`g-${second.runId}`);
    fx.probe.gates.open(`g-${second.runId}`);
    assert.equal((await second.done).state, 'succeeded');
    assert.ok(
      fx.logs.some(
        (l) => l.runId === second.runId && /queued: 1 run\(s\) with concurrency key "deploy-prod"/.test(l.line),
      ),
    );
  });

  test('a queued run can be cancelled', async () => {
    const fx = fixture();
    const yaml = `name: deploy\nconcurrency: { key: k, limit: 1 }\ntasks:\n  t:\n    probe: { gate: "g-\${{ run.id }}" }\n`;
    const first = await fx.startFrom(yaml);
    const second = await fx.startFrom(yaml);
    await fx.probe.gates.arrived(`g-${first.runId}`);
    await fx.engine.cancelRun(second.runId);
    const o = await second.done;
    assert.equal(o.state, 'cancelled');
    assert.equal(fx.probe.calls.length, 1);
    fx.probe.gates.open(`g-${first.runId}`);
    assert.equal((await first.done).state, 'succeeded');
  });
});

describe('cache', () => {
  const CACHED = `
name: cached
inputs:
  date: { type: string }
tasks:
  extract:
    cache: { key: "extract-\${{ inputs.date }}", ttl: 1h }
    probe: { result: { made_by: "\${{ run.id }}" } }
outputs:
  made_by: \${{ tasks.extract.outputs.made_by }}
`;

  test('a second run with the same key is done without running, with the first result', async () => {
    const fx = fixture();
    const first = await (await fx.startFrom(CACHED, { date: 'd1' })).done;
    const h = await fx.startFrom(CACHED, { date: 'd1' });
    const second = await h.done;
    assert.equal(fx.probe.count('extract'), 1);
    assert.deepEqual(plain(second.outputs), { made_by: first.runId });
    const done = fx.eventsOf(h.runId, 'task.succeeded')[0]!;
    assert.equal((done.data!.cached as { run: string }).run, first.runId);
    assert.equal(fx.eventsOf(h.runId, 'task.started').length, 0);
    const other = await (await fx.startFrom(CACHED, { date: 'd2' })).done;
    assert.equal(fx.probe.count('extract'), 2, 'another key runs');
    assert.deepEqual(plain(other.outputs), { made_by: other.runId });
  });

  test('force runs the task again, and later runs get the forced result', async () => {
    const fx = fixture();
    await (
      await fx.startFrom(CACHED, { date: 'd1' })
    ).done;
    const forced = await (await fx.startFrom(CACHED, { date: 'd1' }, { force: ['extract'] })).done;
    assert.equal(fx.probe.count('extract'), 2);
    assert.deepEqual(plain(forced.outputs), { made_by: forced.runId });
    const later = await (await fx.startFrom(CACHED, { date: 'd1' })).done;
    assert.equal(fx.probe.count('extract'), 2);
    assert.deepEqual(plain(later.outputs), { made_by: forced.runId }, 'the newest result is the cached one');
  });

  test('ttl: the entry expires on the clock', async () => {
    const fx = fixture();
    await (
      await fx.startFrom(CACHED, { date: 'd1' })
    ).done;
    await fx.clock.advance(3_600_000 - 1);
    await (
      await fx.startFrom(CACHED, { date: 'd1' })
    ).done;
    assert.equal(fx.probe.count('extract'), 1, 'still fresh');
    await fx.clock.advance(1);
    await (
      await fx.startFrom(CACHED, { date: 'd1' })
    ).done;
    assert.equal(fx.probe.count('extract'), 2, 'expired');
  });

  test('for_each items have their own keys', async () => {
    const fx = fixture();
    const yaml = `
name: cached_items
inputs:
  xs: { type: list }
tasks:
  each:
    for_each: \${{ inputs.xs }}
    cache: { key: "item-\${{ item }}" }
    probe: { result: { v: "\${{ item }}" } }
outputs:
  vs: \${{ tasks.each.outputs }}
`;
    await (
      await fx.startFrom(yaml, { xs: ['a', 'b'] })
    ).done;
    const o = await (await fx.startFrom(yaml, { xs: ['a', 'b', 'c'] })).done;
    assert.deepEqual(
      fx.probe.calls.map((c) => c.item),
      [0, 1, 2],
    );
    assert.deepEqual(plain(o.outputs), { vs: [{ v: 'a' }, { v: 'b' }, { v: 'c' }] });
  });

  test('a failed task leaves no cache entry', async () => {
    const fx = fixture();
    const yaml = `name: c\ntasks:\n  t:\n    cache: { key: k }\n    probe: { fail_if: broken }\n`;
    fx.probe.switches.add('broken');
    assert.equal((await (await fx.startFrom(yaml)).done).state, 'failed');
    fx.probe.switches.delete('broken');
    assert.equal((await (await fx.startFrom(yaml)).done).state, 'succeeded');
    assert.equal((await (await fx.startFrom(yaml)).done).state, 'succeeded');
    assert.equal(fx.probe.count('t'), 2);
  });
});

describe('assert, outputs and limits', () => {
  test('assert true passes; declared outputs replace the dynamic result', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: outs
tasks:
  t:
    probe: { result: { a: 1, b: 2 } }
    assert:
      - \${{ result.a == 1 }}
      - \${{ result.a < result.b }}
    outputs:
      sum: \${{ result.a + result.b }}
outputs:
  t: \${{ tasks.t.outputs }}
`);
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(plain(o.outputs), { t: { sum: 3 } });
  });

  test('assert false fails the task, naming the condition', async () => {
    const fx = fixture();
    const o = await (
      await fx.startFrom(
        `name: a\ntasks:\n  t:\n    probe: { result: { rows: 0 } }\n    assert:\n      - \${{ result.rows > 0 }}\n`,
      )
    ).done;
    assert.equal(o.state, 'failed');
    assert.equal(o.error, 'task t failed: assert[0] does not hold: ${{ result.rows > 0 }}');
  });

  test(`outputs over ${MAX_OUTPUT_BYTES} bytes fail the task with reason limit`, async () => {
    const fx = fixture();
    const o = await (await fx.startFrom(`name: big\ntasks:\n  t:\n    probe: { big: ${MAX_OUTPUT_BYTES} }\n`)).done;
    assert.equal(o.state, 'failed');
    assert.match(o.error!, /outputs are \d+ bytes, more than the limit of 1048576/);
    const failed = fx.eventsOf(o.runId, 'task.failed')[0]!;
    assert.equal((failed.data!.error as { reason: string }).reason, 'limit');
  });
});

describe('artifacts', () => {
  test('files a task writes are sealed read-only and their paths reach later tasks', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: arts
tasks:
  make:
    probe: { files: { "report.txt": "hello", "data.json": "{}" } }
  use:
    needs: [make]
    probe: { result: { paths: "\${{ tasks.make.artifacts }}" } }
outputs:
  paths: \${{ tasks.use.outputs.paths }}
`);
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    const paths = (o.outputs as { paths: Record<string, string> }).paths;
    const folder = join(fx.dir, 'artifacts', 'arts', h.runId, 'make');
    assert.deepEqual(plain(paths), {
      'data.json': join(folder, 'data.json'),
      'report.txt': join(folder, 'report.txt'),
    });
    assert.equal(readFileSync(paths['report.txt']!, 'utf8'), 'hello');
    for (const p of Object.values(paths)) assert.equal(statSync(p).mode & 0o777, 0o444, p);
    assert.equal(statSync(folder).mode & 0o777, 0o555);
    const succeeded = fx.eventsOf(h.runId, 'task.succeeded').find((e) => e.task === 'make')!;
    assert.deepEqual(plain(succeeded.data!.artifacts), plain(paths));
  });

  test('a task that writes nothing has no folder', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`name: arts\ntasks:\n  t:\n    probe: {}\n`);
    await h.done;
    assert.equal(existsSync(join(fx.dir, 'artifacts', 'arts', h.runId, 't')), false);
  });
});

/** Sets a run's owner to a process that no longer exists (a crashed engine). */
function deadOwner(dbPath: string, runId: string): void {
  const db = new DatabaseSync(dbPath);
  try {
    const owner = JSON.stringify({ id: 'dead0wner', host: hostname(), pid: 2 ** 31 - 2, pidStart: '1' });
    db.prepare('UPDATE runs SET owner = ? WHERE id = ?').run(owner, runId);
  } finally {
    db.close();
  }
}

/**
 * The first engine "dies": its timers are dropped (they share the fake clock with the next
 * engine) and its run is left to an owner that no longer exists. Work it has in flight stays
 * blocked on gates the test never opens.
 */
function abandon(fx: EngineFixture, runId: string): void {
  fx.engine.timers.clear();
  deadOwner(fx.dbPath, runId);
}

/** Runs raw SQL on the store's file (a second connection, as another process would). */
function sql(dbPath: string, text: string, ...params: (string | number | null)[]): void {
  const db = new DatabaseSync(dbPath);
  try {
    db.prepare(text).run(...params);
  } finally {
    db.close();
  }
}

describe('resume', () => {
  const CHAIN = `
name: chain
tasks:
  a:
    probe: { result: { n: 1 } }
  b:
    needs: [a]
    probe: { fail_if: b_broken }
  c:
    needs: [b]
    probe: {}
outputs:
  n: \${{ tasks.a.outputs.n }}
`;

  test('a failed run resumed: succeeded tasks are kept, failed and skipped ones run again', async () => {
    const fx = fixture();
    fx.probe.switches.add('b_broken');
    const h = await fx.startFrom(CHAIN);
    const first = await h.done;
    assert.equal(first.state, 'failed');
    assert.equal(fx.probe.count('c'), 0);
    fx.probe.switches.delete('b_broken');
    const resumed = await fx.engine.resumeRun(h.runId);
    const o = await resumed.done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(plain(o.outputs), { n: 1 });
    assert.deepEqual(
      ['a', 'b', 'c'].map((t) => fx.probe.count(t)),
      [1, 2, 1],
    );
    assert.equal(fx.probe.of('b')[1]!.idempotencyKey, `${h.runId}/b`);
    assert.equal((await fx.store.getRun(h.runId))?.state, 'succeeded');
  });

  test('a succeeded run cannot be resumed without --from', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`name: ok\ntasks:\n  a:\n    probe: {}\n`);
    await h.done;
    await assert.rejects(fx.engine.resumeRun(h.runId), /succeeded; there is nothing to resume/);
  });

  test('from a task: it and everything downstream run again, the rest is kept', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: from
tasks:
  a:
    probe: {}
  b:
    needs: [a]
    probe: {}
  c:
    needs: [b]
    probe: {}
  side:
    needs: [a]
    probe: {}
`);
    await h.done;
    const o = await (await fx.engine.resumeRun(h.runId, { from: 'b' })).done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(
      ['a', 'b', 'c', 'side'].map((t) => fx.probe.count(t)),
      [1, 2, 2, 1],
    );
  });

  test('from one for_each item: only that item runs again', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: items
tasks:
  t:
    for_each: [a, b, c]
    probe: { result: { v: "\${{ item }}" } }
outputs:
  vs: \${{ tasks.t.outputs }}
`);
    await h.done;
    const o = await (await fx.engine.resumeRun(h.runId, { from: 't[1]' })).done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(
      fx.probe.calls.map((c) => c.item),
      [0, 1, 2, 1],
    );
    assert.deepEqual(plain(o.outputs), { vs: [{ v: 'a' }, { v: 'b' }, { v: 'c' }] });
  });

  test('a failed for_each resumed: only the items that did not succeed run again', async () => {
    const fx = fixture();
    fx.probe.switches.add('bad-1');
    const h = await fx.startFrom(`
name: items
tasks:
  t:
    for_each: [0, 1, 2]
    probe: { fail_if: "bad-\${{ item }}" }
`);
    assert.equal((await h.done).state, 'failed');
    fx.probe.switches.clear();
    const o = await (await fx.engine.resumeRun(h.runId)).done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(
      fx.probe.calls.map((c) => c.item),
      [0, 1, 2, 1],
    );
  });

  test('an unknown --from is refused, and leaves the run resumable', async () => {
    const fx = fixture();
    fx.probe.switches.add('b_broken');
    const h = await fx.startFrom(CHAIN);
    await h.done;
    fx.probe.switches.delete('b_broken');
    await assert.rejects(fx.engine.resumeRun(h.runId, { from: 'ghost' }), /ghost/);
    await assert.rejects(fx.engine.resumeRun(h.runId, { from: 'a[3]' }), /a\[3\]/);
    await assert.rejects(fx.engine.resumeRun(h.runId, { from: 'Bad-Name' }), /expected TASK/);
    await assert.rejects(fx.engine.resumeRun(h.runId, { from: 'a/x' }), /not a workflow task/);
    const o = await (await fx.engine.resumeRun(h.runId)).done;
    assert.equal(o.state, 'succeeded');
    assert.equal((await fx.store.getRun(h.runId))?.owner, null);
  });

  test('a run that failed on its run timeout gets a fresh deadline when resumed', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: slow
timeout: 1m
tasks:
  a:
    probe: { gate: g }
`);
    await fx.probe.gates.arrived('g');
    await fx.clock.advance(60_000);
    assert.equal((await h.done).error, 'run timed out after 1m');
    await fx.clock.advance(3_600_000);
    const handle = await fx.engine.resumeRun(h.runId);
    await fx.probe.gates.arrived('g');
    await fx.clock.advance(59_999);
    assert.equal(fx.probe.of('a')[1]!.aborted, undefined, 'the old deadline is gone');
    fx.probe.gates.release('g');
    const o = await handle.done;
    assert.equal(o.state, 'succeeded');
    assert.equal(fx.probe.count('a'), 2);
  });

  test('the pinned version is used: resume works after the file is deleted or changed', async () => {
    const fx = fixture();
    fx.probe.switches.add('b_broken');
    const h = await fx.startFrom(CHAIN, {}, { file: 'chain.yaml' });
    await h.done;
    fx.probe.switches.delete('b_broken');
    rmSync(join(fx.dir, 'chain.yaml'));
    const o = await (await fx.engine.resumeRun(h.runId)).done;
    assert.equal(o.state, 'succeeded');
    fx.write('chain.yaml', 'name: chain\ntasks:\n  other:\n    noop:\n');
    const again = await (await fx.engine.resumeRun(h.runId, { from: 'c' })).done;
    assert.equal(again.state, 'succeeded');
    assert.equal(fx.probe.count('c'), 2);
  });

  test('from a task of a child run: the child task and its dependents run again, and the parent downstream', async () => {
    const fx = fixture();
    fx.write(
      'child.yaml',
      `
name: child
inputs:
  who: { type: string }
tasks:
  x:
    probe: { result: { hello: "\${{ inputs.who }}" } }
  y:
    needs: [x]
    probe: { result: { said: "\${{ tasks.x.outputs.hello }}" } }
outputs:
  said: \${{ tasks.y.outputs.said }}
`,
    );
    const h = await fx.startFrom(
      `
name: parent
tasks:
  sub:
    workflow: { file: ./child.yaml, inputs: { who: world } }
  after:
    needs: [sub]
    probe: { result: { got: "\${{ tasks.sub.outputs.said }}" } }
outputs:
  got: \${{ tasks.after.outputs.got }}
`,
      {},
      { file: 'parent.yaml' },
    );
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(plain(o.outputs), { got: 'world' });
    const children = await fx.store.listChildRuns(h.runId);
    assert.equal(children.length, 1);
    assert.equal(children[0]!.parentTask, 'sub');
    const again = await (await fx.engine.resumeRun(h.runId, { from: 'sub/y' })).done;
    assert.equal(again.state, 'succeeded');
    assert.deepEqual(
      ['x', 'y', 'after'].map((t) => fx.probe.count(t)),
      [1, 2, 2],
    );
    assert.equal((await fx.store.listChildRuns(h.runId)).length, 1, 'the same child run was resumed');
  });

  test('cancelling the parent cancels the child run', async () => {
    const fx = fixture();
    fx.write('child.yaml', 'name: child\ntasks:\n  x:\n    probe: { gate: never }\n');
    const h = await fx.startFrom(
      'name: parent\ntasks:\n  sub:\n    workflow: { file: ./child.yaml }\n',
      {},
      { file: 'p.yaml' },
    );
    await fx.probe.gates.arrived('never');
    await fx.engine.cancelRun(h.runId);
    assert.equal((await h.done).state, 'cancelled');
    const [child] = await fx.store.listChildRuns(h.runId);
    const childRecord = await fx.store.getRun(child!.id);
    assert.equal(childRecord?.state, 'cancelled');
    assert.equal(fx.probe.of('x')[0]!.aborted, 'cancelled');
  });

  test('a child run cancelled on its own fails the parent run', async () => {
    const fx = fixture();
    fx.write('child.yaml', 'name: child\ntasks:\n  x:\n    probe: { gate: never }\n');
    const h = await fx.startFrom(
      'name: parent\ntasks:\n  sub:\n    workflow: { file: ./child.yaml }\n  next:\n    needs: [sub]\n    probe: {}\n',
      {},
      { file: 'p.yaml' },
    );
    await fx.probe.gates.arrived('never');
    const [child] = await fx.store.listChildRuns(h.runId);
    await fx.engine.cancelRun(child!.id, 'not needed');
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.match(o.error!, /^task sub cancelled: child run \w+ cancelled: not needed$/);
    assert.equal(fx.probe.count('next'), 0);
  });

  test('a child run that fails fails the parent task', async () => {
    const fx = fixture();
    fx.write('child.yaml', 'name: child\ntasks:\n  x:\n    probe: { fail: { message: child broke } }\n');
    const o = await (
      await fx.startFrom('name: parent\ntasks:\n  sub:\n    workflow: { file: ./child.yaml }\n', {}, { file: 'p.yaml' })
    ).done;
    assert.equal(o.state, 'failed');
    assert.match(o.error!, /^task sub failed: child run \w+ failed: task x failed: child broke$/);
  });
});

describe('crash recovery by a second engine', () => {
  const CRASHY = `
name: crashy
tasks:
  done_before:
    probe: { result: { ok: true } }
  interrupted:
    probe: { checkpoint: { step: 1 }, gate: hang, gate_attempts: 1, result: { ok: true } }
  after:
    needs: [interrupted, done_before]
    probe: {}
`;

  test('interrupted tasks run again with their checkpoint; completed ones are not run again', async () => {
    const fx = fixture();
    const h = await fx.startFrom(CRASHY);
    await fx.probe.gates.arrived('hang');
    await fx.waitFor(is('task.checkpoint', 'interrupted'));
    await fx.waitFor(is('task.succeeded', 'done_before'));
    await settle();
    // The first engine is abandoned mid-run, as if its process died; another one takes over.
    abandon(fx, h.runId);
    const store2 = new SqliteStore(fx.dbPath);
    try {
      const engine2 = fx.another({ store: store2 });
      assert.deepEqual(
        (await engine2.orphanedRuns()).map((r) => r.id),
        [h.runId],
      );
      const o = await (await engine2.resumeRun(h.runId)).done;
      assert.equal(o.state, 'succeeded');
      assert.equal(fx.probe.count('done_before'), 1, 'completed work is never redone');
      const [first, second] = fx.probe.of('interrupted');
      assert.equal(first!.previous, undefined);
      assert.deepEqual(second!.previous, { step: 1 });
      assert.equal(second!.attempt, 2);
      assert.equal(second!.idempotencyKey, first!.idempotencyKey);
      assert.equal(fx.probe.count('after'), 1);
      const types = (await store2.readEvents(h.runId)).map((e) => `${e.type} ${e.task ?? ''}`);
      assert.ok(types.includes('run.recovered ') && types.includes('task.interrupted interrupted'), types.join(', '));
      await engine2.close();
    } finally {
      await store2.close();
    }
  });

  test('the abandoned engine cannot write over the new owner (fencing)', async () => {
    const fx = fixture();
    const h = await fx.startFrom(
      `name: fenced\ntasks:\n  t:\n    probe: { gate: late, gate_attempts: 1, result: { by: first } }\n`,
    );
    await fx.probe.gates.arrived('late');
    abandon(fx, h.runId);
    const engine2 = fx.another();
    const handle = await engine2.resumeRun(h.runId);
    await fx.waitFor((e) => e.type === 'task.started' && e.attempt === 2);
    fx.probe.gates.release('late');
    const o = await handle.done;
    assert.equal(o.state, 'succeeded');
    const first = await h.done;
    assert.equal(first.state, 'failed');
    assert.match(first.error!, /now executed by another engine/);
    assert.equal(fx.eventsOf(h.runId, 'task.succeeded').length, 1);
  });

  test('a retry wait and a sleep keep their deadlines across the takeover', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: timers
tasks:
  flaky:
    retry: { attempts: 2, delay: 10m }
    probe: { fail: { times: 1 } }
  nap:
    sleep: { duration: 1h }
`);
    await fx.waitFor(is('task.failed', 'flaky'));
    await fx.waitFor(is('task.waiting', 'nap'));
    await fx.clock.advance(60_000);
    abandon(fx, h.runId);
    const engine2 = fx.another();
    const handle = await engine2.resumeRun(h.runId);
    await fx.waitFor(is('run.recovered'));
    await fx.clock.advance(9 * 60_000 - 1);
    assert.equal(fx.probe.count('flaky'), 1, 'the retry is not early');
    await fx.clock.advance(1);
    assert.equal(fx.probe.count('flaky'), 2);
    await fx.clock.advance(50 * 60_000 - 1);
    assert.equal(fx.eventsOf(h.runId, 'task.succeeded').filter((e) => e.task === 'nap').length, 0);
    await fx.clock.advance(1);
    assert.equal((await handle.done).state, 'succeeded');
  });

  test('an orphaned run can be cancelled by another engine', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`name: orphan
tasks:
  t:
    probe: { gate: hang, gate_attempts: 1 }
  u:
    needs: [t]
    probe: {}
`);
    await fx.probe.gates.arrived('hang');
    abandon(fx, h.runId);
    const engine2 = fx.another();
    assert.equal(await engine2.cancelRun(h.runId, 'cleanup'), 'cancelling');
    const record = await fx.store.getRun(h.runId);
    assert.equal(record?.state, 'cancelled');
    assert.equal(record?.error, 'cleanup');
    assert.equal(fx.probe.count('u'), 0);
    assert.equal(fx.probe.count('t'), 1, 'cancelling an orphan does not run its interrupted task again');
  });

  test('a run held by a live owner is refused', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`name: live\ntasks:\n  t:\n    probe: { fail: {} }\n`);
    await h.done;
    const live = JSON.stringify({ id: 'other', host: hostname(), pid: process.pid, pidStart: null });
    sql(fx.dbPath, 'UPDATE runs SET owner = ? WHERE id = ?', live, h.runId);
    await assert.rejects(fx.engine.resumeRun(h.runId), /is being executed by pid/);
  });
});

describe('poisoned runs (RELIABILITY C7)', () => {
  const FAILING = `name: poison\ntasks:\n  a:\n    probe: {}\n  b:\n    needs: [a]\n    probe: { fail: {} }\n`;

  async function failedRun(fx: EngineFixture): Promise<string> {
    const h = await fx.startFrom(FAILING);
    assert.equal((await h.done).state, 'failed');
    return h.runId;
  }

  async function expectPoisoned(fx: EngineFixture, runId: string, reason: RegExp): Promise<void> {
    let outcome: RunOutcome | undefined;
    await assert.doesNotReject(async () => {
      outcome = await (await fx.engine.resumeRun(runId)).done;
    });
    assert.equal(outcome!.state, 'failed');
    assert.match(outcome!.error!, reason);
    const record = await fx.store.getRun(runId);
    assert.equal(record?.state, 'failed');
    assert.match(record!.error!, /^the run's stored state cannot be read: /);
    assert.equal(record?.owner, null);
    // The engine goes on serving other runs.
    assert.equal((await (await fx.startFrom(`name: fine\ntasks:\n  t:\n    noop:\n`)).done).state, 'succeeded');
  }

  test('an event with an impossible transition', async () => {
    const fx = fixture();
    const runId = await failedRun(fx);
    sql(
      fx.dbPath,
      "INSERT INTO events (run_id, type, task, item, attempt, at, data) VALUES (?, 'task.started', 'a', NULL, 7, 0, NULL)",
      runId,
    );
    await expectPoisoned(fx, runId, /task.started for a in succeeded|attempt 7/);
  });

  test('an event whose data is truncated JSON', async () => {
    const fx = fixture();
    const runId = await failedRun(fx);
    sql(fx.dbPath, `UPDATE events SET data = '{"outputs": {' WHERE run_id = ? AND type = 'task.succeeded'`, runId);
    await expectPoisoned(fx, runId, /JSON/);
  });

  test('a stored version that names a kind that is gone', async () => {
    const fx = fixture();
    const runId = await failedRun(fx);
    sql(fx.dbPath, "UPDATE workflow_versions SET source = replace(source, 'probe:', 'ghost_kind:')");
    await expectPoisoned(fx, runId, /no longer validates/);
  });

  test('an event log that does not start with run.created', async () => {
    const fx = fixture();
    const runId = await failedRun(fx);
    sql(fx.dbPath, "DELETE FROM events WHERE run_id = ? AND type = 'run.created'", runId);
    await expectPoisoned(fx, runId, /does not start with run.created/);
  });
});

describe('approvals', () => {
  const APPROVAL = `
name: approve
tasks:
  gate:
    approval:
      message: Ship it?
      fields:
        ticket: { type: string, required: true, pattern: "^OPS-[0-9]+$" }
        size: { type: integer, default: 3 }
  ship:
    needs: [gate]
    if: \${{ tasks.gate.outputs.decision == "approve" }}
    probe: {}
outputs:
  decision: \${{ tasks.gate.outputs.decision }}
  fields: \${{ tasks.gate.outputs.fields }}
  approver: \${{ tasks.gate.outputs.approver }}
`;

  test('approved through engine.decide: fields are checked and defaults filled', async () => {
    const fx = fixture();
    const h = await fx.startFrom(APPROVAL);
    await fx.waitFor(is('task.waiting', 'gate'));
    assert.equal((await fx.store.getRun(h.runId))?.state, 'waiting');
    assert.equal(
      fx.engine.decide(h.runId, 'gate', null, {
        decision: 'approve',
        approver: 'alice',
        comment: 'lgtm',
        fields: { ticket: 'OPS-7' },
      }),
      true,
    );
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    assert.deepEqual(plain(o.outputs), {
      decision: 'approve',
      fields: { ticket: 'OPS-7', size: 3 },
      approver: 'alice',
    });
    assert.equal(fx.probe.count('ship'), 1);
  });

  test('a rejection is a decision: the task succeeds and the `if` downstream skips', async () => {
    const fx = fixture();
    const h = await fx.startFrom(APPROVAL);
    await fx.waitFor(is('task.waiting', 'gate'));
    fx.engine.decide(h.runId, 'gate', null, {
      decision: 'reject',
      approver: 'bob',
      comment: 'no',
      fields: { ticket: 'OPS-1' },
    });
    const o = await h.done;
    assert.equal(o.state, 'succeeded');
    assert.equal((o.outputs as { decision: string }).decision, 'reject');
    assert.deepEqual(await states(fx, h.runId), { gate: 'succeeded', ship: 'skipped' });
  });

  test('fields that break their definitions fail the task', async () => {
    const fx = fixture();
    const h = await fx.startFrom(APPROVAL);
    await fx.waitFor(is('task.waiting', 'gate'));
    fx.engine.decide(h.runId, 'gate', null, {
      decision: 'approve',
      approver: 'alice',
      comment: '',
      fields: { ticket: 'nope', size: 'big' },
    });
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.match(o.error!, /field "ticket" does not match the pattern/);
    assert.match(o.error!, /field "size" expected an integer/);
  });

  test('a timeout with a default decides by itself', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: approve
tasks:
  gate:
    approval: { message: ok?, timeout: 1h, default: approve }
outputs:
  by: \${{ tasks.gate.outputs.approver }}
  decision: \${{ tasks.gate.outputs.decision }}
`);
    await fx.waitFor(is('task.waiting', 'gate'));
    await fx.clock.advance(3_600_000 - 1);
    assert.equal(fx.eventsOf(h.runId, 'task.succeeded').length, 0);
    await fx.clock.advance(1);
    const o = await h.done;
    assert.deepEqual(plain(o.outputs), { by: 'timeout', decision: 'approve' });
  });

  test('a timeout without a default fails the task with reason timeout', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`name: approve\ntasks:\n  gate:\n    approval: { message: ok?, timeout: 30m }\n`);
    await fx.waitFor(is('task.waiting', 'gate'));
    await fx.clock.advance(1_800_000);
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.equal(o.error, 'task gate failed: no decision within 30m');
    const failed = fx.eventsOf(h.runId, 'task.failed')[0]!;
    assert.equal((failed.data!.error as { reason: string }).reason, 'timeout');
  });

  test('a decision posted as a store command is picked up by the engine', async () => {
    const fx = fixture();
    const h = await fx.startFrom(APPROVAL);
    await fx.waitFor(is('task.waiting', 'gate'));
    await fx.store.postCommand({
      runId: h.runId,
      type: 'decide',
      task: 'gate',
      item: null,
      data: { decision: 'approve', approver: 'carol', comment: '', fields: { ticket: 'OPS-2' } },
      createdAt: fx.clock.now(),
    });
    const o = await h.done;
    assert.equal((o.outputs as { approver: string }).approver, 'carol');
    await settle();
    assert.deepEqual(await fx.store.takeCommands([h.runId]), [], 'the command was consumed');
  });

  test('a cancel posted as a store command cancels the run', async () => {
    const fx = fixture();
    const h = await fx.startFrom(APPROVAL);
    await fx.waitFor(is('task.waiting', 'gate'));
    await fx.store.postCommand({
      runId: h.runId,
      type: 'cancel',
      task: null,
      item: null,
      data: { reason: 'changed my mind' },
      createdAt: fx.clock.now(),
    });
    const o = await h.done;
    assert.equal(o.state, 'cancelled');
    assert.equal(o.error, 'changed my mind');
  });

  test('a decision that arrives before the task waits is kept for it', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: early
tasks:
  first:
    probe: { gate: g }
  gate:
    needs: [first]
    approval: { message: ok? }
outputs:
  by: \${{ tasks.gate.outputs.approver }}
`);
    await fx.probe.gates.arrived('g');
    fx.engine.decide(h.runId, 'gate', null, { decision: 'approve', approver: 'early-bird', comment: '', fields: {} });
    fx.probe.gates.open('g');
    assert.deepEqual(plain((await h.done).outputs), { by: 'early-bird' });
  });

  test('a waiting approval survives an engine restart with its original deadline', async () => {
    const fx = fixture();
    const h = await fx.startFrom(`
name: durable
tasks:
  gate:
    approval: { message: ok?, timeout: 2h, default: reject }
outputs:
  decision: \${{ tasks.gate.outputs.decision }}
`);
    await fx.waitFor(is('task.waiting', 'gate'));
    await fx.clock.advance(3_600_000);
    await fx.engine.close();
    const engine2 = fx.another();
    const handle = await engine2.resumeRun(h.runId);
    await fx.waitFor((e) => e.type === 'task.waiting' && e.attempt === 2);
    await fx.clock.advance(3_600_000 - 1);
    assert.equal(fx.eventsOf(h.runId, 'task.succeeded').length, 0);
    engine2.decide(h.runId, 'gate', null, { decision: 'approve', approver: 'late', comment: '', fields: {} });
    assert.deepEqual(plain((await handle.done).outputs), { decision: 'approve' });
  });
});

describe('secrets never reach the store (RELIABILITY 4.8)', () => {
  const CANARY = `cAnAry-${Date.now().toString(36)}-"q/x+y=z&w\\`;
  const INPUT_CANARY = 'input-canary-5f4e3d2c1b';
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  const forms = (s: string): string[] => [
    s,
    b64(s),
    b64(s).replace(/=+$/, ''),
    encodeURIComponent(s),
    JSON.stringify(s).slice(1, -1),
  ];

  /** Logs, checkpoints, returns and throws every form of its secret. */
  const leaky: Kind<{ secret: string; fail?: boolean }> = {
    definition: {
      name: 'leaky',
      description: 'Leaks its secret everywhere it can.',
      spec: z.strictObject({ secret: z.string(), fail: z.boolean().optional() }),
      outputs: 'dynamic',
    },
    async execute(spec, ctx) {
      const s = spec.secret;
      ctx.logger.line('stdout', `token=${s}`);
      ctx.logger.line('stderr', `b64=${b64(s)} url=${encodeURIComponent(s)}`);
      ctx.logger.line('info', `json=${JSON.stringify({ s })}`);
      await ctx.checkpoint({ token: s, [s]: b64(s) });
      if (spec.fail === true) {
        throw new TaskFailure('error', `auth failed for ${s} (${b64(s)})`, { result: { echoed: s } });
      }
      return { result: { token: s, b64: b64(s), url: encodeURIComponent(s), nested: { list: [s] }, [s]: 'as key' } };
    },
  };

  test('a canary used in outputs, logs, errors, checkpoints, items, skips and approvals: 0 occurrences', async () => {
    const fx = fixture({ secrets: { TOKEN: CANARY }, kinds: [leaky as Kind] });
    const h = await fx.startFrom(
      `
name: leak
inputs:
  password: { type: string, secret: true }
tasks:
  use:
    leaky: { secret: "\${{ secrets.TOKEN }}" }
  from_input:
    leaky: { secret: "\${{ inputs.password }}" }
  fails:
    retry: { attempts: 2, delay: 1s }
    leaky: { secret: "\${{ secrets.TOKEN }}", fail: true }
  fan:
    for_each: \${{ [secrets.TOKEN, "plain"] }}
    probe: { result: { v: "\${{ item }}" }, log: "item \${{ item }}" }
  gated:
    if: \${{ secrets.TOKEN }}
    noop:
  approve:
    approval: { message: "use \${{ secrets.TOKEN }}?" }
outputs:
  token: \${{ tasks.use.outputs.token }}
  echoed: \${{ secrets.TOKEN }}
  comment: \${{ tasks.approve.outputs.comment }}
`,
      { password: INPUT_CANARY },
      { event: { header: `Bearer ${CANARY}` } },
    );
    await fx.waitFor(is('task.waiting', 'approve'));
    fx.engine.decide(h.runId, 'approve', null, {
      decision: 'approve',
      approver: 'alice',
      comment: `pasted ${CANARY}`,
      fields: {},
    });
    await advanceUntil(fx, is('run.failed'), 500);
    const o = await h.done;
    assert.equal(o.state, 'failed');
    assert.equal(fx.probe.count('fan'), 2);
    await fx.engine.close();

    const hits: string[] = [];
    const scan = (where: string, text: string): void => {
      for (const secret of [CANARY, INPUT_CANARY]) {
        for (const f of forms(secret)) if (text.includes(f)) hits.push(`${where}: ${f}`);
      }
    };
    scan('events', JSON.stringify(fx.events));
    scan('logs', JSON.stringify(fx.logs));
    scan('outcome', JSON.stringify(o));
    const db = new DatabaseSync(fx.dbPath);
    try {
      db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
      assert.ok(tables.length >= 7);
      for (const { name } of tables) {
        for (const row of db.prepare(`SELECT * FROM "${name}"`).all()) scan(`table ${name}`, JSON.stringify(row));
      }
    } finally {
      db.close();
    }
    for (const file of [fx.dbPath, `${fx.dbPath}-wal`]) {
      if (existsSync(file)) scan(file, readFileSync(file).toString('latin1'));
    }
    assert.deepEqual(hits, []);
    // The run still did what it was asked: masked values, not missing ones.
    assert.deepEqual(plain(o.outputs), { token: '***', echoed: '***', comment: 'pasted ***' });
    assert.ok(fx.logs.some((l) => l.line === 'token=***'));
  });
});
