// C2 (RELIABILITY.md 4.1): every named crash point of src/engine/crash-points.ts, at every pass of
// it, for each task kind (noop, shell, http, sleep, approval). A workflow `target` (the kind) ->
// `after` (a journaling shell task) is run with RIVET_CRASH_AT=<point>:<n>, the process kills
// itself there, then the run is resumed and checked (C1's invariants). RIVET_CRASH_LOG counts the
// passes of every point: a point never hit (for a kind) fails the test. After a crash at
// after-side-effect of the http task, the second POST carries the same Idempotency-Key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CRASH_POINTS, type CrashPoint } from '../../src/engine/crash-points.ts';
import {
  JOURNAL_LINE,
  pool,
  readJournal,
  readStore,
  Recorder,
  rivet,
  type RivetProcess,
  type Sandbox,
  sandbox,
  STRESS,
} from './harness.ts';
import { assertNone, checkAcknowledged, checkExecutions, checkReplay } from './invariants.ts';

const KINDS = ['noop', 'shell', 'http', 'sleep', 'approval'] as const;
type KindName = (typeof KINDS)[number];

function targetSpec(kind: KindName): string[] {
  switch (kind) {
    case 'noop':
      return ['    noop: {}'];
    case 'shell':
      return ['    shell:', `      run: '${JOURNAL_LINE}'`, '      env: { JOURNAL: "${{ inputs.journal }}" }'];
    case 'http':
      return [
        '    http:',
        '      method: POST',
        '      url: "${{ inputs.base }}/effect/${{ inputs.tag }}/target"',
        '      json: { n: 1 }',
      ];
    case 'sleep':
      return ['    sleep: { duration: 150ms }'];
    case 'approval':
      return ['    approval: { message: go on? }'];
  }
}

function workflow(kind: KindName): string {
  return [
    `name: c2_${kind}`,
    'inputs:',
    '  journal: { type: string }',
    '  base: { type: string }',
    '  tag: { type: string }',
    'tasks:',
    '  target:',
    ...targetSpec(kind),
    '  after:',
    '    needs: target',
    '    shell:',
    `      run: '${JOURNAL_LINE}'`,
    '      env: { JOURNAL: "${{ inputs.journal }}" }',
    '',
  ].join('\n');
}

interface Outcome {
  readonly kind: KindName;
  readonly point: CrashPoint;
  readonly pass: number;
  /** The process killed itself at the point (false: the run ended before reaching that pass). */
  readonly crashed: boolean;
  readonly hits: Map<string, number>;
}

function countHits(log: string): Map<string, number> {
  const hits = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return hits;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const point = line.split(' ')[0]!;
    hits.set(point, (hits.get(point) ?? 0) + 1);
  }
  return hits;
}

let sameKeyChecks = 0;

/** Runs one crash scenario to the end (crash, then resume until done) and checks it. */
async function scenario(recorder: Recorder, kind: KindName, point: CrashPoint | null, pass: number) {
  const tag = `${kind}-${point ?? 'none'}-${pass}`;
  const box: Sandbox = sandbox(`c2-${tag}`);
  const file = box.file('wf.yaml', workflow(kind));
  const run = [
    'run',
    file,
    '--input',
    `journal=${box.journal}`,
    '--input',
    `base=${recorder.url}`,
    '--input',
    `tag=${tag}`,
    '--json',
  ];
  const procs: RivetProcess[] = [];
  const context = (): string =>
    `kind ${kind}, crash at ${point}:${pass}; store ${box.db}\n${procs.map((p) => p.describe()).join('\n')}`;
  let approved = false;
  let runId: string | undefined;
  let crashed = false;
  for (let n = 0; n < 4; n++) {
    const env: Record<string, string> = { RIVET_CRASH_LOG: box.crashLog };
    if (n === 0 && point !== null) env.RIVET_CRASH_AT = `${point}:${pass}`;
    const p = rivet(runId === undefined ? run : ['runs', 'resume', runId, '--json'], { home: box.home, env });
    procs.push(p);
    if (kind === 'approval' && !approved) {
      const waiting = await p.waitFor((l) => l.type === 'task.waiting' && l.task === 'target', 20_000);
      if (waiting !== undefined) {
        approved = true;
        const a = rivet(['approve', waiting.run!, 'target'], { home: box.home });
        assert.equal((await a.done()).code, 0, `rivet approve failed\n${a.describe()}`);
      }
    }
    const exit = await p.done(30_000);
    runId ??= p.lines.find((l) => l.run !== undefined)?.run;
    const view = await readStore(box.db).catch(() => undefined);
    runId ??= view?.runs[0]?.id;
    assert.equal(view?.integrity ?? 'ok', 'ok', `integrity_check after the crash\n${context()}`);
    if (exit.signal === 'SIGKILL') {
      assert.equal(n, 0, `only the armed process may crash\n${context()}`);
      crashed = true;
      if (view?.runs[0]?.state === 'succeeded') break; // crashed after the final commit: nothing to resume
      continue;
    }
    assert.equal(exit.code, 0, `the ${n === 0 ? 'run' : 'resumed run'} should succeed\n${context()}`);
    break;
  }
  const view = await readStore(box.db);
  assert.equal(view.runs.length, 1, `exactly one run\n${context()}`);
  assert.equal(view.runs[0]!.state, 'succeeded', `the run ends succeeded\n${context()}`);
  runId = view.runs[0]!.id;
  const requests = recorder.records.filter((r) => r.path.startsWith(`/effect/${tag}/`));
  const acks = procs.flatMap((p) => p.lines);
  const expect = {
    journaled: new Set(kind === 'shell' ? ['target', 'after'] : ['after']),
    posting: new Map(kind === 'http' ? [['target', `/effect/${tag}/target`]] : []),
  };
  const { violations } = checkExecutions(
    {
      runId,
      events: view.events.get(runId)!,
      journal: readJournal(box.journal),
      requests,
      acks,
      kills: crashed ? 1 : 0,
    },
    expect,
  );
  violations.push(...checkAcknowledged(acks, view.events), ...(await checkReplay(box.db, runId)));
  if (kind === 'http' && crashed && point === 'after-side-effect') {
    const log = readFileSync(box.crashLog, 'utf8');
    if (log.split('\n').filter((l) => l.startsWith('after-side-effect'))[pass - 1] === 'after-side-effect target') {
      sameKeyChecks++;
      const posts = requests.filter((r) => r.method === 'POST');
      if (posts.length !== 2 || posts[0]!.key !== posts[1]!.key || posts[0]!.key === null) {
        violations.push(
          `C2: after a crash after the POST was sent, the retry must POST again with the same Idempotency-Key; got ${JSON.stringify(posts.map((p) => p.key))}`,
        );
      }
    }
  }
  assertNone(violations, context);
  const hits = countHits(box.crashLog);
  box.cleanup();
  return { crashed, hits };
}

test(`C2: each crash point x each kind (${KINDS.join(', ')}), crash then resume`, async () => {
  const recorder = await new Recorder().start();
  try {
    // A clean run of each kind counts the passes of every point; each pass is then a scenario.
    const plan: { kind: KindName; point: CrashPoint; pass: number }[] = [];
    const baseline = new Map<KindName, Map<string, number>>();
    await pool([...KINDS], 3, async (kind) => {
      const { hits } = await scenario(recorder, kind, null, 0);
      baseline.set(kind, hits);
    });
    for (const kind of KINDS) {
      console.log(`C2 clean ${kind} run passes: ${[...baseline.get(kind)!].map(([p, n]) => `${p} ${n}`).join(', ')}`);
      for (const point of CRASH_POINTS) {
        const passes = baseline.get(kind)!.get(point) ?? 0;
        assert.ok(passes > 0, `a clean ${kind} run never passes the crash point ${point}`);
        // Every pass of every point; RIVET_STRESS repeats the whole plan (timings differ run to run).
        for (let r = 0; r < STRESS; r++) for (let pass = 1; pass <= passes; pass++) plan.push({ kind, point, pass });
      }
    }
    const outcomes: Outcome[] = await pool(plan, 3, async ({ kind, point, pass }) => ({
      kind,
      point,
      pass,
      ...(await scenario(recorder, kind, point, pass)),
    }));
    const table: string[] = [];
    for (const point of CRASH_POINTS) {
      const row = KINDS.map((kind) => {
        const mine = outcomes.filter((o) => o.kind === kind && o.point === point);
        const crashes = mine.filter((o) => o.crashed).length;
        const passes = mine.reduce((s, o) => s + (o.hits.get(point) ?? 0), 0);
        assert.ok(crashes > 0, `the crash point ${point} was never crashed at for the ${kind} kind`);
        return `${kind} ${crashes}/${mine.length} crashes, ${passes} passes`;
      });
      table.push(`C2 ${point.padEnd(17)} ${row.join(' | ')}`);
    }
    for (const line of table) console.log(line);
    assert.ok(sameKeyChecks > 0, 'no crash landed after the POST of the http task and before its result');
    const total = outcomes.filter((o) => o.crashed).length;
    console.log(
      `C2: ${total} crashes in ${outcomes.length} scenarios, every point hit for every kind, ${sameKeyChecks} http retry(ies) after a sent POST with the same Idempotency-Key, 0 violations`,
    );
  } finally {
    await recorder.stop();
  }
});
