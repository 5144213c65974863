// C3 (RELIABILITY.md 4.1, Airflow PR #66773): the engine dies right after a task is marked running
// (RIVET_CRASH_AT=after-commit:1: the first batch, `run.started` + `task.started`, is durable),
// before the task did anything: no heartbeat, no output, no side effect. After a restart the task
// runs again (attempt 2) and the run finishes (I2). The journal proves attempt 1 never ran.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOURNAL_LINE, ms, percentile, pool, readJournal, readStore, rivet, sandbox, STRESS } from './harness.ts';

const TRIALS = 50 * STRESS;

const WORKFLOW = `name: c3
inputs:
  journal: { type: string }
tasks:
  work:
    shell:
      run: '${JOURNAL_LINE}'
      env: { JOURNAL: "\${{ inputs.journal }}" }
`;

async function trial(i: number): Promise<number> {
  const box = sandbox(`c3-${i}`);
  const file = box.file('wf.yaml', WORKFLOW);
  const first = rivet(['run', file, '--input', `journal=${box.journal}`, '--json'], {
    home: box.home,
    env: { RIVET_CRASH_AT: 'after-commit:1' },
  });
  const exit = await first.done(30_000);
  const context = (): string => `trial ${i}, store ${box.db}\n${first.describe()}`;
  assert.equal(exit.signal, 'SIGKILL', `the engine should have crashed at after-commit:1\n${context()}`);
  const crashed = await readStore(box.db);
  const run = crashed.runs[0];
  assert.ok(run !== undefined, `the run exists\n${context()}`);
  const events = crashed.events.get(run.id)!;
  assert.ok(
    events.some((e) => e.type === 'task.started' && e.task === 'work' && e.attempt === 1),
    `task.started of attempt 1 is durable before the crash\n${context()}`,
  );
  assert.equal(run.state === 'running' || run.state === 'queued', true, `the run is left running, got ${run.state}`);
  const started = performance.now();
  const second = rivet(['runs', 'resume', run.id, '--json'], { home: box.home });
  assert.equal((await second.done(30_000)).code, 0, `the resumed run succeeds\n${second.describe()}`);
  const recovered = performance.now() - started;
  const journal = readJournal(box.journal).map((j) => `${j.task} ${j.attempt}`);
  assert.deepEqual(
    journal,
    ['work 2'],
    `attempt 1 never ran (it died before acting); attempt 2 ran once\n${context()}`,
  );
  const final = await readStore(box.db);
  assert.equal(final.runs[0]!.state, 'succeeded');
  assert.ok(
    final.events.get(run.id)!.some((e) => e.type === 'task.interrupted' && e.task === 'work' && e.attempt === 1),
    'the interrupted attempt is recorded',
  );
  box.cleanup();
  return recovered;
}

test(`C3: killed right after a task is marked running, ${TRIALS} trials`, async () => {
  const times = await pool(
    Array.from({ length: TRIALS }, (_, i) => i),
    4,
    trial,
  );
  console.log(
    `C3: ${times.length}/${TRIALS} recovered (task re-run as attempt 2, attempt 1 never acted); resume to end p50 ${ms(percentile(times, 50))}, p100 ${ms(percentile(times, 100))}`,
  );
});
