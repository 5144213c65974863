// C6 (RELIABILITY.md 4.1): the engine is SIGKILLed while a run waits on an approval, a sleep and
// an http poll (the recorder answers the POST with 202 + Location, then the operation completes
// after a number of polls). After `rivet runs resume`: the approval is still actionable with
// `rivet approve` (given while no engine runs in half the trials, after the restart in the
// other half), the sleep fires at its original deadline (within 1 s), the POST was sent once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ms, percentile, pool, readStore, Recorder, rivet, sandbox, sleep, STRESS } from './harness.ts';
import { assertNone, checkAcknowledged, checkReplay } from './invariants.ts';

const TRIALS = 20 * STRESS;
const SLEEP_MS = 4_000;

const WORKFLOW = `name: c6
inputs:
  base: { type: string }
  tag: { type: string }
tasks:
  gate:
    approval: { message: ship it? }
  nap:
    sleep: { duration: ${SLEEP_MS}ms }
  op:
    http:
      method: POST
      url: "\${{ inputs.base }}/op/\${{ inputs.tag }}"
      json: { start: true }
      poll: { until: "\${{ response.body.done }}", interval: 300ms, timeout: 1m }
  done:
    needs: [gate, nap, op]
    noop: {}
`;

interface Trial {
  readonly sleepErrorMs: number;
  readonly posts: number;
  readonly gets: number;
}

async function trial(i: number, recorder: Recorder): Promise<Trial> {
  const tag = `c6-${i}`;
  const box = sandbox(tag);
  const file = box.file('wf.yaml', WORKFLOW);
  const first = rivet(['run', file, '--input', `base=${recorder.url}`, '--input', `tag=${tag}`, '--json'], {
    home: box.home,
  });
  const procs = [first];
  const context = (): string => `trial ${i}, store ${box.db}\n${procs.map((p) => p.describe()).join('\n')}`;
  const waiting = (p: typeof first, task: string) =>
    p.waitFor((l) => (l.type === 'task.waiting' && l.task === task) || false, 30_000);
  const nap = await first.waitFor((l) => l.type === 'task.checkpoint' && l.task === 'nap', 30_000);
  assert.ok(nap !== undefined, `the sleep checkpoints its deadline\n${context()}`);
  const deadline = (nap.data?.state as { deadline: number }).deadline;
  assert.ok(await waiting(first, 'gate'), `the approval waits\n${context()}`);
  assert.ok(await waiting(first, 'nap'), `the sleep waits\n${context()}`);
  const polling = await first.waitFor((l) => l.type === 'task.checkpoint' && l.task === 'op', 30_000);
  assert.ok(polling !== undefined, `the http task checkpoints its poll\n${context()}`);
  await sleep(400); // a poll or two, then the crash
  await first.kill();
  const runId = nap.run!;
  const approve = async (): Promise<void> => {
    const a = rivet(['approve', runId, 'gate', '--as', 'tester'], { home: box.home });
    assert.equal((await a.done()).code, 0, `rivet approve after the restart failed\n${a.describe()}`);
  };
  const approveWhileDown = i % 2 === 0;
  if (approveWhileDown) await approve();
  const second = rivet(['runs', 'resume', runId, '--json'], { home: box.home });
  procs.push(second);
  if (!approveWhileDown) {
    assert.ok(await waiting(second, 'gate'), `the approval waits again after the restart\n${context()}`);
    await approve();
  }
  const woke = await second.waitFor((l) => l.type === 'task.succeeded' && l.task === 'nap', SLEEP_MS + 10_000);
  assert.ok(woke !== undefined, `the sleep fires after the restart\n${context()}`);
  // A sleep cannot fire before the engine that resumes it has recovered the run: on a loaded
  // machine the restart itself may end after the deadline, and then the sleep is due at once.
  const recovered = await second.waitFor((l) => l.type === 'run.recovered', 1_000);
  const due = Math.max(deadline, recovered?.wall ?? deadline);
  const sleepErrorMs = woke.wall - due;
  assert.ok(
    Math.abs(sleepErrorMs) <= 1_000,
    `C6: the sleep fired ${ms(sleepErrorMs)} away from its original deadline (limit 1 s)\n${context()}`,
  );
  assert.equal((await second.done(30_000)).code, 0, `the resumed run succeeds\n${context()}`);
  const view = await readStore(box.db);
  const events = view.events.get(runId)!;
  assert.equal(view.runs[0]!.state, 'succeeded');
  const decided = events.find((e) => e.type === 'task.succeeded' && e.task === 'gate');
  assert.deepEqual(
    [decided?.data?.outputs && (decided.data.outputs as { decision: string; approver: string }).approver],
    ['tester'],
    'the approval was decided by rivet approve',
  );
  const mine = recorder.records.filter((r) => r.path.startsWith(`/op/${tag}`));
  const posts = mine.filter((r) => r.method === 'POST').length;
  const gets = mine.filter((r) => r.method === 'GET').length;
  assert.equal(posts, 1, `C6: the poll resumed without sending the POST again (POSTs: ${posts})\n${context()}`);
  assert.ok(gets >= recorder.opPolls, `the operation was polled to completion (${gets} GETs)`);
  assertNone(
    [...checkAcknowledged([...first.lines, ...second.lines], view.events), ...(await checkReplay(box.db, runId))],
    context,
  );
  box.cleanup();
  return { sleepErrorMs, posts, gets };
}

test(`C6: approval, sleep and http poll survive a SIGKILL, ${TRIALS} trials`, async () => {
  const recorder = await new Recorder().start();
  recorder.opPolls = 6;
  try {
    const results = await pool(
      Array.from({ length: TRIALS }, (_, i) => i),
      10,
      (i) => trial(i, recorder),
    );
    const errors = results.map((r) => Math.abs(r.sleepErrorMs));
    console.log(
      `C6: ${results.length}/${TRIALS} runs finished after a kill while waiting; approval actionable in ${results.length}/${TRIALS}; ` +
        `sleep deadline error p50 ${ms(percentile(errors, 50))}, p100 ${ms(percentile(errors, 100))} (limit 1 s); ` +
        `POSTs per run: ${[...new Set(results.map((r) => r.posts))].join(', ')}`,
    );
  } finally {
    await recorder.stop();
  }
});
