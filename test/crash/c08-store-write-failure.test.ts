// C8 (RELIABILITY.md 4.1): store writes fail (SQLITE_BUSY, SQLITE_FULL, SQLITE_IOERR), injected by
// RIVET_TEST_FAULT (src/cli/local.ts) before the commit or in the middle of the transaction:
//   start    the first 3 commits fail (the run's creation among them); the engine retries.
//   clears   every commit fails while a flag file exists (created mid-run, removed 800 ms later);
//            the same process carries on once the fault clears.
//   killed   as `clears`, but the engine is SIGKILLed during the fault, then resumed after it.
// Pass: no side effect acted on after a failed commit (every journal line and POST belongs to an
// attempt whose start is durable; nothing new is started while commits fail), nothing reported on
// --json that is not durable (no task reported done by a failed commit), the run finishes.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  JOURNAL_LINE,
  pool,
  readJournal,
  readStore,
  Recorder,
  rivet,
  type RivetProcess,
  sandbox,
  sleep,
  STRESS,
  unitName,
} from './harness.ts';
import { assertNone, checkAcknowledged, checkExecutions, checkReplay } from './invariants.ts';

const CHAINS = 3;
const SHELL = [`    shell:`, `      run: '${JOURNAL_LINE}'`, '      env: { JOURNAL: "${{ inputs.journal }}" }'];

/** Three parallel chains of shell, http, sleep and noop tasks. */
function workflow(): { yaml: string; journaled: Set<string>; posting: Map<string, string> } {
  const lines = [
    'name: c8',
    'inputs:',
    '  journal: { type: string }',
    '  base: { type: string }',
    '  tag: { type: string }',
    'tasks:',
  ];
  const journaled = new Set<string>();
  const posting = new Map<string, string>();
  const steps = ['shell', 'http', 'sleep', 'shell', 'http', 'noop', 'shell', 'http', 'sleep', 'shell'];
  for (let c = 0; c < CHAINS; c++) {
    steps.forEach((kind, k) => {
      const id = `c${c}_${k}`;
      lines.push(`  ${id}:`);
      if (k > 0) lines.push(`    needs: c${c}_${k - 1}`);
      if (kind === 'shell') {
        lines.push(...SHELL);
        journaled.add(id);
      } else if (kind === 'http') {
        lines.push(
          '    http:',
          '      method: POST',
          `      url: "\${{ inputs.base }}/effect/\${{ inputs.tag }}/${id}"`,
          '      json: { id: 1 }',
        );
        posting.set(id, `/effect/TAG/${id}`);
      } else if (kind === 'sleep') lines.push('    sleep: { duration: 150ms }');
      else lines.push('    noop: {}');
    });
  }
  return { yaml: `${lines.join('\n')}\n`, journaled, posting };
}

type Mode = 'start' | 'clears' | 'killed';
const CODES = ['SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_IOERR'] as const;

async function scenario(recorder: Recorder, code: string, mode: Mode, hook: string, i: number) {
  const tag = `c8-${code}-${mode}-${i}`;
  const box = sandbox(tag);
  const wf = workflow();
  const file = box.file('wf.yaml', wf.yaml);
  const flag = `${box.dir}/fault-on`;
  const fault = mode === 'start' ? `${hook}:${code}:3` : `${hook}:${code}:${flag}`;
  const args = [
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
    `${tag} (RIVET_TEST_FAULT=${fault}); store ${box.db}\n${procs.map((p) => p.describe()).join('\n')}`;
  const first = rivet(args, { home: box.home, env: { RIVET_TEST_FAULT: fault } });
  procs.push(first);
  const violations: string[] = [];
  let window: { on: number; off: number } | undefined;
  let kills = 0;
  if (mode !== 'start') {
    const progress = () => first.lines.filter((l) => l.type === 'task.succeeded').length;
    assert.ok(await first.waitFor(() => progress() >= 6, 30_000), `the run made progress\n${context()}`);
    writeFileSync(flag, '');
    const on = Date.now();
    const onPerf = performance.now();
    await sleep(800);
    const reported = first.lines.filter((l) => /^(task|run)\./.test(l.type) && l.received > onPerf + 300);
    if (reported.length > 0) {
      violations.push(
        `C8: ${reported.length} event(s) reported on --json while every commit failed: ${reported.map((l) => `${l.type} ${l.task}`).join(', ')}`,
      );
    }
    if (mode === 'killed') {
      await first.kill();
      kills = 1;
    }
    window = { on, off: Date.now() };
    rmSync(flag);
  }
  const exit = await first.done(60_000);
  if (mode === 'killed') {
    const second = rivet(['runs', 'resume', first.lines.find((l) => l.run !== undefined)!.run!, '--json'], {
      home: box.home,
    });
    procs.push(second);
    assert.equal((await second.done(60_000)).code, 0, `the run resumes once the fault is gone\n${context()}`);
  } else assert.equal(exit.code, 0, `the run finishes once the fault is gone\n${context()}`);
  assert.ok(
    first.lines.some(
      (l) => l.type === 'log' && /store write failed \(SQLITE_/.test(String((l as { line?: unknown }).line)),
    ),
    `the fault was hit (the engine logged a failed write)\n${context()}`,
  );
  const view = await readStore(box.db);
  assert.equal(view.runs.length, 1, `one run\n${context()}`);
  const run = view.runs[0]!;
  assert.equal(run.state, 'succeeded', `the run ends succeeded\n${context()}`);
  const events = view.events.get(run.id)!;
  const journal = readJournal(box.journal);
  const requests = recorder.records.filter((r) => r.path.startsWith(`/effect/${tag}/`));
  const acks = procs.flatMap((p) => p.lines);
  const posting = new Map([...wf.posting].map(([u, p]) => [u, p.replace('TAG', tag)]));
  violations.push(
    ...checkExecutions({ runId: run.id, events, journal, requests, acks, kills }, { journaled: wf.journaled, posting })
      .violations,
    ...checkAcknowledged(acks, view.events),
    ...(await checkReplay(box.db, run.id)),
  );
  if (window !== undefined) {
    // Nothing may start while commits fail: an effect inside the fault window must belong to an
    // attempt whose task.started was decided (and so could be durable) before the fault began.
    const startedAt = new Map<string, number>();
    for (const e of events) {
      if (e.type === 'task.started' && e.task !== null) startedAt.set(`${unitName(e.task, e.item)}#${e.attempt}`, e.at);
    }
    for (const j of journal) {
      if (j.at <= window.on + 50 || j.at >= window.off) continue;
      const at = startedAt.get(`${unitName(j.task, j.item)}#${j.attempt}`);
      if (at === undefined || at >= window.on) {
        violations.push(
          `C8: ${j.task} attempt ${j.attempt} ran during the fault, but its start was not durable before it`,
        );
      }
    }
    const offPerf = performance.now() - (Date.now() - window.off);
    const onPerf = performance.now() - (Date.now() - window.on);
    for (const r of requests) {
      if (r.at <= onPerf + 50 || r.at >= offPerf) continue;
      const unit = r.path.split('/').at(-1)!;
      const starts = events.filter((e) => e.type === 'task.started' && e.task === unit && e.at < window.on);
      if (starts.length === 0)
        violations.push(`C8: ${unit} POSTed during the fault, but no start of it was durable before`);
    }
  }
  assertNone(violations, context);
  box.cleanup();
  return {
    tag,
    retries: acks.filter((l) => l.type === 'log' && /store write failed/.test(String((l as { line?: unknown }).line)))
      .length,
  };
}

test('C8: store write failures (BUSY, FULL, IOERR): nothing acted on or reported without a durable write', async () => {
  const recorder = await new Recorder().start();
  try {
    const plan: [string, Mode, string][] = [];
    for (let r = 0; r < STRESS; r++) {
      for (const code of CODES)
        for (const mode of ['start', 'clears', 'killed'] as const) plan.push([code, mode, 'before-commit']);
      plan.push(['SQLITE_IOERR', 'clears', 'mid-transaction'], ['SQLITE_FULL', 'killed', 'mid-transaction']);
    }
    const results = await pool(plan, 3, ([code, mode, hook], i) => scenario(recorder, code, mode, hook, i));
    for (const [k, r] of results.entries()) {
      const [code, mode, hook] = plan[k]!;
      console.log(`C8 ${hook} ${code} ${mode}: run finished, ${r.retries} failed write(s) retried, 0 violations`);
    }
    console.log(`C8: ${results.length}/${plan.length} scenarios: 0 side effects after a failed commit, 100% resumed`);
  } finally {
    await recorder.stop();
  }
});
