/**
 * The run state machine on its own, with no database and no executor (STYLE.md habit 2): the
 * test plays the executor, taking units from `nextReady` and reporting results. Covers task and
 * unit transitions, `needs`/`when`/`if` and skip propagation, the run's outcome and outputs,
 * for_each expansion and per-task concurrency, retries, cancellation, recovery after a crash,
 * resume, `apply` refusing impossible events, and replaying an event log to the same state.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUILTIN_KINDS, validateWorkflowText } from '../model/index.ts';
import { TaskFailure } from '../kinds/types.ts';
import { NO_REDACTION, Redactor } from './redact.ts';
import { MAX_FANOUT, MAX_INTERRUPTIONS, RunMachine } from './run-machine.ts';
import { IllegalEventError, type RunEvent, type Unit } from './state.ts';

const T0 = Date.UTC(2026, 0, 1);

interface Built {
  readonly m: RunMachine;
  /** Every event decided so far (the log the executor would have written). */
  readonly log: RunEvent[];
  /** Moves the machine's decisions to `log` and returns them. */
  take(): RunEvent[];
  /** Replays `log` into a fresh machine. */
  replay(): RunMachine;
}

function build(
  yaml: string,
  inputs: Record<string, unknown> = {},
  options: { secrets?: Record<string, string>; force?: string[] } = {},
): Built {
  const checked = validateWorkflowText(yaml);
  assert.ok(checked.workflow !== undefined, checked.diagnostics.map((d) => d.message).join('; '));
  const workflow = checked.workflow;
  const make = (): RunMachine =>
    new RunMachine({
      runId: 'r1',
      workflow,
      kinds: new Map(BUILTIN_KINDS.map((k) => [k.name, k])),
      scope: {
        inputs,
        vars: {},
        secrets: options.secrets ?? {},
        env: {},
        event: null,
        run: { id: 'r1', workflow: workflow.name, version: 'v1', trigger: 'manual', started_at: '' },
      },
      redactor: options.secrets === undefined ? NO_REDACTION : new Redactor(options.secrets),
      random: () => 0.5,
      force: new Set(options.force ?? []),
    });
  const m = make().at(T0);
  const log: RunEvent[] = [];
  const take = (): RunEvent[] => {
    const events = m.pending;
    m.pending = [];
    log.push(...events);
    return events;
  };
  return {
    m,
    log,
    take,
    replay() {
      take();
      const fresh = make();
      for (const e of log) fresh.apply(e);
      return fresh;
    },
  };
}

const short = (events: readonly RunEvent[]): string[] =>
  events.map((e) => `${e.type}${e.task === null ? '' : ` ${e.task}${e.item === null ? '' : `[${e.item}]`}`}`);

/** Takes every ready unit (in order) and begins it. */
function startAll(m: RunMachine): Unit[] {
  const out: Unit[] = [];
  for (let u = m.nextReady(); u !== undefined; u = m.nextReady()) {
    m.begin(u);
    out.push(u);
  }
  return out;
}

/** Runs every ready unit to success (repeatedly) with `results[task]` as its result. */
function runAll(m: RunMachine, results: Record<string, Record<string, unknown>> = {}): void {
  for (let units = startAll(m); units.length > 0; units = startAll(m)) {
    for (const u of units) m.succeed(u, results[u.node.task.id] ?? {}, {});
  }
}

const keyOf = (u: Unit): string => (u.item === null ? u.node.task.id : `${u.node.task.id}[${u.item}]`);

/**
 * What a machine's state looks like, for comparing a live machine with a replayed one. A task
 * that became ready (active, its one unit untouched) decided no event: the log shows it pending,
 * and `recover` considers it again, so both read as pending here.
 */
function snapshot(m: RunMachine): unknown {
  const untouched = (n: RunMachine['nodes'][number]): boolean =>
    n.status === 'active' &&
    n.units.length === 1 &&
    n.units[0]!.item === null &&
    n.units[0]!.attempt === 0 &&
    n.units[0]!.status === 'pending';
  return {
    phase: m.phase,
    outputs: m.outputs,
    error: m.error,
    activity: m.activity(),
    tasks: m.nodes.map((n) => ({
      id: n.task.id,
      status: untouched(n) ? 'pending' : n.status,
      skip: n.skipReason,
      open: untouched(n) ? 0 : n.open,
      units: (untouched(n) ? [] : n.units).map((u) => ({
        item: u.item,
        status: u.status,
        attempt: u.attempt,
        interruptions: u.interruptions,
        retryAt: u.retryAt,
        outputs: u.outputs,
        error: u.error,
        checkpoint: u.checkpoint,
      })),
    })),
  };
}

describe('RunMachine: task and unit transitions', () => {
  const CHAIN = `
name: chain
tasks:
  a:
    noop:
  b:
    needs: [a]
    noop:
`;

  test('pending → running → succeeded, and the run succeeds when every task did', () => {
    const { m, take } = build(CHAIN);
    assert.equal(m.phase, 'queued');
    m.start();
    assert.deepEqual(short(take()), ['run.started']);
    assert.equal(m.node('a')!.status, 'active');
    assert.equal(m.node('b')!.status, 'pending');
    const a = m.nextReady()!;
    assert.equal(a.status, 'starting');
    assert.equal(m.nextReady(), undefined, 'b waits for a');
    assert.equal(m.begin(a), 1);
    assert.equal(a.status, 'running');
    assert.deepEqual(m.activity(), { running: 1, waiting: 0 });
    assert.deepEqual(short(take()), ['task.started a']);
    m.succeed(a, { x: 1 }, {});
    assert.equal(a.status, 'succeeded');
    assert.equal(m.node('a')!.status, 'succeeded');
    assert.deepEqual(short(take()), ['task.succeeded a']);
    const b = m.nextReady()!;
    assert.equal(keyOf(b), 'b');
    m.begin(b);
    m.succeed(b, {}, {});
    assert.deepEqual(short(take()), ['task.started b', 'task.succeeded b', 'run.succeeded']);
    assert.equal(m.phase, 'succeeded');
    assert.equal(m.done, true);
    assert.deepEqual(m.activity(), { running: 0, waiting: 0 });
  });

  test('running → waiting holds no running slot; waiting → succeeded', () => {
    const { m, take } = build(CHAIN);
    m.start();
    const [a] = startAll(m);
    m.waiting(a!);
    assert.equal(a!.status, 'waiting');
    assert.deepEqual(m.activity(), { running: 0, waiting: 1 });
    m.waiting(a!); // already waiting: nothing more decided
    m.checkpoint(a!, { deadline: 5 });
    assert.deepEqual(a!.checkpoint, { deadline: 5 });
    m.succeed(a!, {}, {});
    assert.deepEqual(short(take()), [
      'run.started',
      'task.started a',
      'task.waiting a',
      'task.checkpoint a',
      'task.succeeded a',
    ]);
  });

  test('running → failed: the dependent is skipped and the run fails with the task named', () => {
    const { m, take } = build(CHAIN);
    m.start();
    const [a] = startAll(m);
    assert.equal(m.fail(a!, new TaskFailure('error', 'boom')), null);
    assert.equal(a!.status, 'failed');
    assert.deepEqual(a!.error, { reason: 'error', message: 'boom' });
    assert.deepEqual(short(take()), ['run.started', 'task.started a', 'task.failed a', 'task.skipped b', 'run.failed']);
    assert.equal(m.node('b')!.skipReason, 'needs: a failed');
    assert.equal(m.phase, 'failed');
    assert.equal(m.error, 'task a failed: boom');
  });

  test('a failure keeps its status and exit code on the error', () => {
    const { m } = build(CHAIN);
    m.start();
    const [a] = startAll(m);
    m.fail(a!, new TaskFailure('http_status', 'HTTP 503', { status: 503 }));
    assert.deepEqual(a!.error, { reason: 'http_status', message: 'HTTP 503', status: 503 });
    const other = build(CHAIN);
    other.m.start();
    const [x] = startAll(other.m);
    other.m.fail(x!, new TaskFailure('exit_code', 'exit 3', { exitCode: 3 }));
    assert.deepEqual(x!.error, { reason: 'exit_code', message: 'exit 3', exit_code: 3 });
  });
});

describe('RunMachine: needs, when, if and skips', () => {
  const GRAPH = `
name: graph
tasks:
  a:
    noop:
  b:
    needs: [a]
    noop:
  c:
    needs: [b]
    noop:
  on_fail:
    needs: [a]
    when: failure
    noop:
  cleanup:
    needs: [c]
    when: always
    noop:
  after_cleanup:
    needs: [cleanup]
    noop:
`;

  test('a failure skips the success chain, runs the failure handler and `always` tasks; the run still fails', () => {
    const { m, take } = build(GRAPH);
    m.start();
    const [a] = startAll(m);
    m.fail(a!, new TaskFailure('error', 'broken'));
    runAll(m);
    const status = Object.fromEntries(m.nodes.map((n) => [n.task.id, n.status]));
    assert.deepEqual(status, {
      a: 'failed',
      b: 'skipped',
      c: 'skipped',
      on_fail: 'succeeded',
      cleanup: 'succeeded',
      after_cleanup: 'succeeded',
    });
    assert.equal(m.node('c')!.skipReason, 'needs: b skipped');
    assert.equal(m.phase, 'failed');
    assert.equal(m.error, 'task a failed: broken');
    assert.equal(short(take()).at(-1), 'run.failed');
  });

  test('success: the failure handler is skipped, everything else runs', () => {
    const { m } = build(GRAPH);
    m.start();
    runAll(m);
    assert.equal(m.node('on_fail')!.status, 'skipped');
    assert.equal(m.node('on_fail')!.skipReason, 'when: failure, and no needed task failed');
    assert.equal(m.phase, 'succeeded');
  });

  test('if: false skips the task and its dependents; if: true runs it', () => {
    const { m, take } = build(
      `
name: conditional
inputs:
  go: { type: boolean }
tasks:
  gated:
    if: \${{ inputs.go }}
    noop:
  next:
    needs: [gated]
    noop:
  always:
    needs: [next]
    when: always
    noop:
`,
      { go: false },
    );
    m.start();
    runAll(m);
    assert.deepEqual(short(take()), [
      'run.started',
      'task.skipped gated',
      'task.skipped next',
      'task.started always',
      'task.succeeded always',
      'run.succeeded',
    ]);
    assert.equal(m.node('gated')!.skipReason, 'if: condition is false');
    const yes = build(`name: c\ntasks:\n  t:\n    if: \${{ 1 < 2 }}\n    noop:\n`);
    yes.m.start();
    runAll(yes.m);
    assert.equal(yes.m.node('t')!.status, 'succeeded');
  });

  test('if: a value that is not true skips, saying what it was', () => {
    const { m } = build(`name: c\ntasks:\n  t:\n    if: \${{ "yes" }}\n    noop:\n`);
    m.start();
    assert.equal(m.node('t')!.skipReason, 'if: condition is "yes"');
  });

  test('if: an expression error fails the task (not retried), without a unit ever starting', () => {
    const { m, take } = build(
      `
name: bad_if
inputs:
  m: { type: object, default: {} }
tasks:
  t:
    if: \${{ inputs.m.missing > 1 }}
    retry: { attempts: 3 }
    noop:
`,
      { m: {} },
    );
    m.start();
    assert.deepEqual(short(take()), ['run.started', 'task.failed t', 'run.failed']);
    assert.equal(m.node('t')!.units[0]!.error!.reason, 'expression');
    assert.match(m.error!, /^task t failed: if: /);
  });

  test('a skipped task reads as null for its declared outputs in workflow outputs', () => {
    const { m } = build(`
name: outs
tasks:
  a:
    if: \${{ false }}
    noop:
    outputs:
      v: \${{ 1 }}
  approve:
    if: \${{ false }}
    approval: { message: ok? }
  b:
    noop:
    outputs:
      w: \${{ "w" }}
outputs:
  v: \${{ tasks.a.outputs.v }}
  decision: \${{ tasks.approve.outputs.decision }}
  status: \${{ tasks.a.status }}
  w: \${{ tasks.b.outputs.w }}
`);
    m.start();
    runAll(m);
    assert.equal(m.phase, 'succeeded');
    assert.deepEqual({ ...m.outputs }, { v: null, decision: null, status: 'skipped', w: 'w' });
  });

  test('workflow outputs read task outputs, and a failed run keeps the outputs it could compute', () => {
    const { m } = build(`
name: outs
tasks:
  a:
    noop:
    outputs:
      n: \${{ 41 + 1 }}
  b:
    needs: [a]
    noop:
outputs:
  n: \${{ tasks.a.outputs.n }}
`);
    m.start();
    const [a] = startAll(m);
    m.succeed(a!, {}, {});
    const [b] = startAll(m);
    m.fail(b!, new TaskFailure('error', 'x'));
    assert.equal(m.phase, 'failed');
    assert.deepEqual({ ...m.outputs }, { n: 42 });
  });

  test('a workflow output that cannot be evaluated fails an otherwise successful run', () => {
    const { m } = build(`
name: outs
tasks:
  a:
    noop:
    outputs:
      n: \${{ 1 }}
outputs:
  bad: \${{ tasks.a.outputs.n / 0 }}
`);
    m.start();
    runAll(m);
    assert.equal(m.phase, 'failed');
    assert.match(m.error!, /^outputs: /);
  });
});

describe('RunMachine: for_each', () => {
  test('expands a list from inputs; item and index are in scope; outputs become a list', () => {
    const { m, take } = build(
      `
name: fan
inputs:
  regions: { type: list }
tasks:
  each:
    for_each: \${{ inputs.regions }}
    noop:
    outputs:
      label: \${{ string(index) + "-" + item }}
  join:
    needs: [each]
    noop:
    outputs:
      all: \${{ tasks.each.outputs }}
outputs:
  labels: \${{ tasks.join.outputs.all }}
`,
      { regions: ['eu', 'us', 'ap'] },
    );
    m.start();
    assert.deepEqual(short(take()), ['run.started', 'task.expanded each']);
    assert.equal(m.node('each')!.units.length, 3);
    runAll(m);
    assert.equal(m.phase, 'succeeded');
    assert.deepEqual(JSON.parse(JSON.stringify(m.outputs)), {
      labels: [{ label: '0-eu' }, { label: '1-us' }, { label: '2-ap' }],
    });
  });

  test('a literal list fans out too', () => {
    const { m } = build(`name: fan\ntasks:\n  each:\n    for_each: [1, 2]\n    noop:\n`);
    m.start();
    assert.deepEqual(
      m.node('each')!.units.map((u) => [u.item, u.value]),
      [
        [0, 1],
        [1, 2],
      ],
    );
  });

  test('per-task concurrency: at most N units start until one ends', () => {
    const { m } = build(`name: fan\ntasks:\n  each:\n    for_each: [1, 2, 3, 4, 5]\n    concurrency: 2\n    noop:\n`);
    m.start();
    const first = startAll(m);
    assert.deepEqual(first.map(keyOf), ['each[0]', 'each[1]']);
    m.succeed(first[1]!, {}, {});
    const second = startAll(m);
    assert.deepEqual(second.map(keyOf), ['each[2]']);
    m.succeed(first[0]!, {}, {});
    m.succeed(second[0]!, {}, {});
    assert.deepEqual(startAll(m).map(keyOf), ['each[3]', 'each[4]']);
  });

  test('an empty list: the task succeeds at once with an empty list of outputs', () => {
    const { m, take } = build(`
name: fan
tasks:
  each:
    for_each: \${{ [] }}
    noop:
  next:
    needs: [each]
    noop:
    outputs:
      n: \${{ size(tasks.each.outputs) }}
`);
    m.start();
    runAll(m);
    assert.deepEqual(short(take()), [
      'run.started',
      'task.expanded each',
      'task.started next',
      'task.succeeded next',
      'run.succeeded',
    ]);
    assert.equal(m.node('each')!.status, 'succeeded');
    assert.deepEqual({ ...(m.node('next')!.units[0]!.outputs as object) }, { n: 0 });
  });

  test('a value that is not a list fails the task, not retried', () => {
    const { m } = build(
      `name: fan\ninputs:\n  x: { type: string }\ntasks:\n  each:\n    for_each: \${{ inputs.x }}\n    retry: { attempts: 3 }\n    noop:\n`,
      { x: 'eu,us' },
    );
    m.start();
    assert.equal(m.node('each')!.status, 'failed');
    assert.deepEqual(m.node('each')!.units[0]!.error, {
      reason: 'expression',
      message: 'for_each: expected a list, got a string',
    });
    assert.equal(m.phase, 'failed');
  });

  test(`more than MAX_FANOUT (${MAX_FANOUT}) items is refused with reason limit`, () => {
    const yaml = `name: fan\ninputs:\n  xs: { type: list }\ntasks:\n  each:\n    for_each: \${{ inputs.xs }}\n    noop:\n`;
    const over = build(yaml, { xs: Array.from({ length: MAX_FANOUT + 1 }, (_, i) => i) });
    over.m.start();
    assert.equal(over.m.node('each')!.units[0]!.error!.reason, 'limit');
    assert.match(over.m.error!, /10001 items, more than the limit of 10000/);
    const at = build(yaml, { xs: Array.from({ length: MAX_FANOUT }, (_, i) => i) });
    at.m.start();
    assert.equal(at.m.node('each')!.units.length, MAX_FANOUT);
  });

  test('one failed item fails the task; the other items still run', () => {
    const { m } = build(`name: fan\ntasks:\n  each:\n    for_each: [a, b, c]\n    noop:\n`);
    m.start();
    const units = startAll(m);
    m.succeed(units[0]!, {}, {});
    m.fail(units[1]!, new TaskFailure('error', 'b broke'));
    assert.equal(m.node('each')!.status, 'active');
    m.succeed(units[2]!, {}, {});
    assert.equal(m.node('each')!.status, 'failed');
    assert.equal(m.error, 'task each[1] failed: b broke');
  });
});

describe('RunMachine: retries', () => {
  const FLAKY = `
name: flaky
tasks:
  t:
    retry: { attempts: 3, backoff: exponential, delay: 2s }
    noop:
`;

  test('a retryable failure sets retry_at; the unit starts again only once the retry is due', () => {
    const { m, take } = build(FLAKY);
    m.start();
    const [u] = startAll(m);
    m.at(T0 + 100);
    assert.equal(m.fail(u!, new TaskFailure('error', 'first')), T0 + 100 + 1500);
    const failed = take().at(-1)!;
    assert.equal(failed.type, 'task.failed');
    assert.equal(failed.data!.retry_at, T0 + 1600);
    assert.equal(u!.status, 'pending');
    assert.equal(m.node('t')!.status, 'active');
    assert.equal(m.nextReady(), undefined, 'not before the retry is due');
    m.retryDue(u!);
    const again = m.nextReady();
    assert.equal(again, u);
    assert.equal(m.begin(u!), 2);
    assert.equal(m.fail(u!, new TaskFailure('error', 'second')), T0 + 100 + 3000, 'exponential: 4s with jitter 0.5');
    m.retryDue(u!);
    startAll(m);
    assert.equal(m.fail(u!, new TaskFailure('error', 'third')), null, 'three attempts used');
    assert.equal(m.phase, 'failed');
    assert.equal(m.error, 'task t failed: third');
  });

  test('an assertion failure is not retried', () => {
    const { m } = build(`
name: asserting
tasks:
  t:
    retry: { attempts: 3 }
    noop:
    assert:
      - \${{ 1 > 2 }}
`);
    m.start();
    const [u] = startAll(m);
    assert.equal(m.succeed(u!, {}, {}), null);
    assert.equal(u!.status, 'failed');
    assert.deepEqual(u!.error, { reason: 'assertion', message: 'assert[0] does not hold: ${{ 1 > 2 }}' });
  });
});

describe('RunMachine: cancellation', () => {
  const WIDE = `
name: wide
tasks:
  a:
    noop:
  b:
    needs: [a]
    noop:
  each:
    for_each: [1, 2, 3]
    concurrency: 1
    noop:
`;

  test('pending tasks and units are cancelled; running ones are handed back to be aborted', () => {
    const { m, take } = build(WIDE);
    m.start();
    const running = startAll(m);
    assert.deepEqual(running.map(keyOf), ['a', 'each[0]']);
    take();
    const toAbort = m.cancel('cancelled by user');
    assert.deepEqual(toAbort.map(keyOf), ['a', 'each[0]']);
    assert.deepEqual(short(take()), [
      'run.cancelling',
      'task.cancelled b',
      'task.cancelled each[1]',
      'task.cancelled each[2]',
    ]);
    assert.equal(m.phase, 'cancelling');
    assert.equal(m.nextReady(), undefined);
    for (const u of toAbort) m.fail(u, new TaskFailure('cancelled', 'aborted'));
    assert.deepEqual(short(take()), ['task.cancelled a', 'task.cancelled each[0]', 'run.cancelled']);
    assert.equal(m.phase, 'cancelled');
    assert.equal(m.error, 'cancelled by user');
    assert.equal(m.node('each')!.status, 'cancelled');
  });

  test('a task that ends with any failure while the run is cancelling is cancelled, not failed', () => {
    const { m } = build(WIDE);
    m.start();
    const [a] = startAll(m);
    m.cancel('stop');
    m.fail(a!, new TaskFailure('error', 'killed'));
    assert.equal(a!.status, 'cancelled');
  });

  test('a run timeout ends the run failed, not cancelled', () => {
    const { m } = build(WIDE);
    m.start();
    for (const u of [...startAll(m), ...m.cancel('run timed out after 1m')]) {
      if (u.status === 'running') m.fail(u, new TaskFailure('timeout', 'timed out'));
    }
    assert.equal(m.phase, 'failed');
    assert.equal(m.error, 'run timed out after 1m');
  });

  test('a retry that comes due while cancelling cancels the unit', () => {
    const { m } = build(`name: r\ntasks:\n  t:\n    retry: { attempts: 2 }\n    noop:\n`);
    m.start();
    const [u] = startAll(m);
    m.fail(u!, new TaskFailure('error', 'x'));
    assert.deepEqual(m.cancel('stop'), []);
    assert.equal(u!.status, 'cancelled');
    assert.equal(m.phase, 'cancelled');
    m.retryDue(u!); // a timer that was not disarmed in time: harmless
    assert.equal(m.phase, 'cancelled');
  });

  test('a task cancelled on its own (a child run cancelled) fails the run, it does not succeed', () => {
    const { m } = build(`name: r\ntasks:\n  child:\n    noop:\n  next:\n    needs: [child]\n    noop:\n`);
    m.start();
    const [u] = startAll(m);
    m.fail(u!, new TaskFailure('cancelled', 'child run c1 cancelled'));
    assert.equal(u!.status, 'cancelled');
    assert.equal(m.node('next')!.skipReason, 'needs: child cancelled');
    assert.equal(m.phase, 'failed');
    assert.equal(m.error, 'task child cancelled: child run c1 cancelled');
  });

  test('cancelling a finished run does nothing', () => {
    const { m, take } = build(`name: r\ntasks:\n  t:\n    noop:\n`);
    m.start();
    runAll(m);
    take();
    assert.deepEqual(m.cancel('late'), []);
    assert.deepEqual(take(), []);
    assert.equal(m.phase, 'succeeded');
  });
});

describe('RunMachine: apply refuses impossible events', () => {
  const YAML = `name: r\ntasks:\n  a:\n    noop:\n  each:\n    for_each: [1, 2]\n    noop:\n`;
  const ev = (type: string, task: string | null, extra: Partial<RunEvent> = {}): RunEvent => ({
    type,
    task,
    item: null,
    attempt: null,
    at: T0,
    data: null,
    ...extra,
  });
  const cases: [string, (m: RunMachine) => void, RegExp][] = [
    ['an unknown task', (m) => m.apply(ev('task.started', 'nope', { attempt: 1 })), /unknown task nope/],
    ['an unknown run event', (m) => m.apply(ev('run.exploded', null)), /unknown event type run.exploded/],
    ['an unknown task event', (m) => m.apply(ev('task.teleported', 'a')), /unknown event type task.teleported/],
    ['an attempt that skips a number', (m) => m.apply(ev('task.started', 'a', { attempt: 2 })), /attempt 2 after 0/],
    ['waiting before running', (m) => m.apply(ev('task.waiting', 'a')), /task.waiting for a in state pending/],
    [
      'a checkpoint before running',
      (m) => m.apply(ev('task.checkpoint', 'a', { data: { state: 1 } })),
      /in state pending/,
    ],
    ['an interruption of a pending task', (m) => m.apply(ev('task.interrupted', 'a')), /in state pending/],
    [
      'an item of a task that was not expanded',
      (m) => m.apply(ev('task.started', 'each', { item: 0, attempt: 1 })),
      /task.started for each in pending/,
    ],
    [
      'an item beyond the expanded list',
      (m) => {
        m.apply(ev('task.expanded', 'each', { data: { items: [1, 2] } }));
        m.apply(ev('task.started', 'each', { item: 5, attempt: 1 }));
      },
      /each\[5\], which has no such unit/,
    ],
    ['an expansion without items', (m) => m.apply(ev('task.expanded', 'each', { data: {} })), /without items/],
    [
      'a skip after the task started',
      (m) => {
        m.apply(ev('task.started', 'a', { attempt: 1 }));
        m.apply(ev('task.skipped', 'a'));
      },
      /task.skipped for a in active/,
    ],
    [
      'a start after success',
      (m) => {
        m.apply(ev('task.succeeded', 'a', { data: { outputs: {} } }));
        m.apply(ev('task.started', 'a', { attempt: 1 }));
      },
      /task.started for a in succeeded/,
    ],
    [
      'a resume that resets an unknown task',
      (m) => m.apply(ev('run.resumed', null, { data: { reset: [{ task: 'ghost', item: null }] } })),
      /resets unknown task ghost/,
    ],
    [
      'a resume that resets an item that does not exist',
      (m) => m.apply(ev('run.resumed', null, { data: { reset: [{ task: 'a', item: 3 }] } })),
      /resets a\[3\], which does not exist/,
    ],
  ];
  for (const [label, act, message] of cases) {
    test(label, () => {
      const { m } = build(YAML);
      assert.throws(
        () => act(m),
        (e: unknown) => e instanceof IllegalEventError && message.test(e.message),
      );
    });
  }
});

describe('RunMachine: replay', () => {
  const BIG = `
name: big
inputs:
  xs: { type: list, default: [1, 2, 3] }
tasks:
  a:
    retry: { attempts: 2 }
    noop:
    outputs:
      n: \${{ 7 }}
  fan:
    needs: [a]
    for_each: \${{ inputs.xs }}
    noop:
    outputs:
      doubled: \${{ item * 2 }}
  broken:
    needs: [a]
    noop:
  after_broken:
    needs: [broken]
    noop:
  handler:
    needs: [broken]
    when: failure
    noop:
  skipped:
    if: \${{ false }}
    noop:
outputs:
  doubled: \${{ tasks.fan.outputs }}
`;

  test('replaying the event log of a finished run reproduces its state', () => {
    const { m, replay } = build(BIG, { xs: [1, 2, 3] });
    m.start();
    const [a] = startAll(m);
    m.fail(a!, new TaskFailure('error', 'flaky'));
    m.retryDue(a!);
    runAll(m);
    const broken = m.node('broken')!.units[0]!;
    assert.equal(broken.status, 'succeeded', 'runAll ran it');
    assert.equal(m.phase, 'succeeded');
    const again = replay();
    assert.deepEqual(snapshot(again), snapshot(m));
  });

  test('replaying a log cut in the middle of a run reproduces that moment', () => {
    const { m, replay } = build(BIG, { xs: [1, 2, 3] });
    m.start();
    const [a] = startAll(m);
    m.succeed(a!, {}, {});
    const units = startAll(m);
    m.waiting(units[0]!);
    m.checkpoint(units[1]!, { step: 1 });
    m.fail(
      units.find((u) => u.node.task.id === 'broken')!,
      new TaskFailure('error', 'bad'),
    );
    const again = replay();
    assert.deepEqual(snapshot(again), snapshot(m));
    assert.equal(again.phase, 'running');
  });

  test('replay of a cancelled run', () => {
    const { m, replay } = build(BIG, { xs: [1, 2, 3] });
    m.start();
    const [a] = startAll(m);
    for (const u of m.cancel('stop')) m.fail(u, new TaskFailure('cancelled', 'aborted'));
    assert.equal(a!.status, 'cancelled');
    assert.equal(m.phase, 'cancelled');
    assert.deepEqual(snapshot(replay()), snapshot(m));
  });

  test('replay of a resumed run', () => {
    const { m, take, replay } = build(BIG, { xs: [1, 2, 3] });
    m.start();
    for (const u of startAll(m)) m.fail(u, new TaskFailure('error', 'down'));
    const [retry] = m.node('a')!.units;
    m.retryDue(retry!);
    for (const u of startAll(m)) m.fail(u, new TaskFailure('error', 'still down'));
    assert.equal(m.phase, 'failed');
    take();
    m.resume();
    runAll(m);
    assert.equal(m.phase, 'succeeded');
    assert.deepEqual(snapshot(replay()), snapshot(m));
  });
});

describe('RunMachine: recovery after a crash', () => {
  const YAML = `
name: rec
tasks:
  a:
    noop:
  b:
    needs: [a]
    noop:
  r:
    retry: { attempts: 3, delay: 10s }
    noop:
`;

  test('running units are interrupted and start again with their checkpoint; retry timers are returned', () => {
    const { m, log, take, replay } = build(YAML);
    m.start();
    const units = startAll(m);
    m.checkpoint(units[0]!, { pgid: 42 });
    m.at(T0 + 5).fail(units[1]!, new TaskFailure('error', 'x'));
    take();
    const n = log.length;
    const again = replay().at(T0 + 1000);
    const retries = again.recover();
    assert.deepEqual(retries.map(keyOf), ['r']);
    assert.equal(retries[0]!.retryAt, T0 + 5 + 10_000);
    assert.deepEqual(short(again.pending), ['run.recovered', 'task.interrupted a']);
    assert.equal(log.length, n);
    const a = again.nextReady()!;
    assert.equal(keyOf(a), 'a');
    assert.deepEqual(a.checkpoint, { pgid: 42 }, 'the next attempt finds the checkpoint');
    assert.equal(a.interruptions, 1);
    assert.equal(again.begin(a), 2);
    assert.equal(again.nextReady(), undefined);
  });

  test(`after ${MAX_INTERRUPTIONS} interruptions the unit fails instead of running again`, () => {
    const first = build(YAML);
    first.m.start();
    startAll(first.m);
    const log = first.take();
    /** A new engine replays the log, recovers, and starts what is ready; then it "crashes" too. */
    const crashAndRecover = (): RunMachine => {
      const next = build(YAML);
      for (const e of log) next.m.apply(e);
      next.m.recover();
      startAll(next.m);
      log.push(...next.take());
      return next.m;
    };
    for (let i = 1; i < MAX_INTERRUPTIONS; i++) {
      assert.equal(crashAndRecover().node('a')!.units[0]!.status, 'running', `after ${i} interruption(s)`);
    }
    const last = crashAndRecover();
    const a = last.node('a')!.units[0]!;
    assert.equal(a.status, 'failed');
    assert.equal(a.interruptions, MAX_INTERRUPTIONS);
    assert.equal(a.error!.reason, 'interrupted');
    assert.match(a.error!.message, /the engine stopped 3 times while this task ran/);
  });

  test('a run that crashed while cancelling finishes its cancellation on recovery', () => {
    const { m, replay } = build(YAML);
    m.start();
    startAll(m);
    m.cancel('stop');
    const again = replay();
    again.recover();
    assert.equal(again.phase, 'cancelled');
    assert.equal(again.error, 'stop');
  });
});

describe('RunMachine: resume', () => {
  const YAML = `
name: res
tasks:
  a:
    noop:
  b:
    needs: [a]
    noop:
  c:
    needs: [b]
    noop:
  side:
    noop:
  fan:
    for_each: [x, y, z]
    noop:
`;

  test('resume runs failed and skipped tasks again and keeps succeeded ones', () => {
    const { m, take } = build(YAML);
    m.start();
    for (let units = startAll(m); units.length > 0; units = startAll(m)) {
      for (const u of units) {
        if (keyOf(u) === 'b' || keyOf(u) === 'fan[1]') m.fail(u, new TaskFailure('error', 'x'));
        else m.succeed(u, {}, {});
      }
    }
    assert.equal(m.phase, 'failed');
    assert.equal(m.node('c')!.status, 'skipped');
    take();
    m.resume();
    const [resumed] = take();
    assert.equal(resumed!.type, 'run.resumed');
    assert.equal(m.phase, 'running');
    assert.equal(m.node('c')!.status, 'pending');
    // Succeeded tasks, and the succeeded items of a for_each, are kept.
    assert.deepEqual(startAll(m).map(keyOf), ['b', 'fan[1]']);
  });

  test('resume from a task runs it and everything downstream again, and nothing else', () => {
    const { m, take } = build(YAML);
    m.start();
    runAll(m);
    take();
    m.resume({ task: 'b', item: null });
    const reset = (take()[0]!.data!.reset as { task: string }[]).map((r) => r.task);
    assert.deepEqual(reset.sort(), ['b', 'c']);
    const order: string[] = [];
    for (let units = startAll(m); units.length > 0; units = startAll(m)) {
      for (const u of units) {
        order.push(keyOf(u));
        m.succeed(u, {}, {});
      }
    }
    assert.deepEqual(order, ['b', 'c']);
    assert.equal(m.phase, 'succeeded');
  });

  test('resume from one for_each item runs that item only', () => {
    const { m, take } = build(YAML);
    m.start();
    runAll(m);
    take();
    m.resume({ task: 'fan', item: 1 });
    assert.deepEqual(startAll(m).map(keyOf), ['fan[1]']);
  });

  test('resume from a task that does not exist throws before deciding anything', () => {
    const { m, take } = build(YAML);
    m.start();
    runAll(m);
    take();
    assert.throws(() => m.resume({ task: 'ghost', item: null }), /no task ghost/);
    assert.deepEqual(m.pending, []);
  });
});

describe('RunMachine: redaction of what it decides', () => {
  const SECRET = 'sk-canary-0123456789';

  test('outputs, errors and for_each items are masked before they become events', () => {
    const { m, take } = build(
      `
name: red
tasks:
  each:
    for_each: \${{ [secrets.TOKEN] }}
    noop:
    outputs:
      echo: \${{ item }}
  fails:
    noop:
`,
      {},
      { secrets: { TOKEN: SECRET } },
    );
    m.start();
    for (const u of startAll(m)) {
      if (u.node.task.id === 'fails') m.fail(u, new TaskFailure('error', `bad token ${SECRET}`));
      else m.succeed(u, {}, {});
    }
    const text = JSON.stringify(take());
    assert.equal(text.includes(SECRET), false, text);
    assert.equal(m.error, 'task fails failed: bad token ***');
  });

  test('the reason of a skip and of a cancellation are masked', () => {
    const { m, take } = build(
      `
name: red
tasks:
  gated:
    if: \${{ secrets.TOKEN }}
    noop:
  child:
    noop:
`,
      {},
      { secrets: { TOKEN: SECRET } },
    );
    m.start();
    const [child] = startAll(m);
    m.fail(child!, new TaskFailure('cancelled', `child run saw ${SECRET}`));
    const events = take();
    const text = JSON.stringify(events);
    assert.equal(text.includes(SECRET), false, text);
    assert.equal(m.node('gated')!.skipReason, 'if: condition is "***"');
    assert.equal(child!.error!.message, 'child run saw ***');
  });
});
