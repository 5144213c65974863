// C4 (RELIABILITY.md 4.1, Airflow #65505): a shell task starts a background grandchild
// (`sleep 1000 &`) in its process group; the engine is SIGKILLed while the task runs. The group
// outlives the engine (the test checks it does, or it would prove nothing). After recovery no
// process of the old attempt is alive (the engine kills recorded groups when it takes the run over,
// the retry before it starts), checked when the resumed run ends and again 2 s later, from /proc
// (zombies ignored). Also when the task does not run again: its orphaned run is cancelled, or it
// is failed after being interrupted MAX_INTERRUPTIONS times.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_INTERRUPTIONS } from '../../src/engine/run-machine.ts';
import {
  groupMembers,
  ms,
  percentile,
  pool,
  prng,
  BASE_SEED,
  readJournal,
  rivet,
  rivetDone,
  sandbox,
  sleep,
  STRESS,
} from './harness.ts';

const TRIALS = 50 * STRESS;

// Attempt 1 records its group ($$: bash leads its own group) and the grandchild's pid, then waits.
const WORKFLOW = `name: c4
inputs:
  journal: { type: string }
tasks:
  work:
    shell:
      run: |
        if [ "$RIVET_ATTEMPT" = 1 ]; then
          sleep 1000 &
          echo "$RIVET_RUN_ID $RIVET_TASK_ID - $RIVET_ATTEMPT \${EPOCHREALTIME:-0} $$ $!" >> "$JOURNAL"
          wait
        fi
        echo "$RIVET_RUN_ID $RIVET_TASK_ID - $RIVET_ATTEMPT \${EPOCHREALTIME:-0} $$" >> "$JOURNAL"
      env: { JOURNAL: "\${{ inputs.journal }}" }
`;

interface Trial {
  readonly pgid: number;
  readonly grandchild: number;
  readonly recoveredMs: number;
}

async function trial(i: number): Promise<Trial> {
  const random = prng(BASE_SEED + i);
  const box = sandbox(`c4-${i}`);
  const file = box.file('wf.yaml', WORKFLOW);
  const first = rivet(['run', file, '--input', `journal=${box.journal}`, '--json'], { home: box.home });
  const context = (): string => `trial ${i}, store ${box.db}\n${first.describe()}`;
  const checkpoint = await first.waitFor((l) => l.type === 'task.checkpoint' && l.task === 'work', 30_000);
  assert.ok(checkpoint !== undefined, `the shell task checkpoints its group\n${context()}`);
  const pgid = (checkpoint.data?.state as { pgid: number }).pgid;
  for (let k = 0; k < 200 && readJournal(box.journal).length === 0; k++) await sleep(10);
  const line = readJournal(box.journal)[0];
  assert.ok(line !== undefined, `attempt 1 started its grandchild\n${context()}`);
  const [group, grandchild] = line.extra.split(' ').map(Number) as [number, number];
  assert.equal(group, pgid, 'the checkpointed pgid is the script’s group');
  await sleep(random() * 100);
  await first.kill();
  assert.ok(groupMembers(pgid).length >= 2, `the old group outlived the engine (else the test proves nothing)`);
  const started = performance.now();
  const second = rivet(['runs', 'resume', checkpoint.run!, '--json'], { home: box.home });
  const exit = await second.done(30_000);
  const recoveredMs = performance.now() - started;
  assert.equal(exit.code, 0, `the resumed run succeeds\n${second.describe()}`);
  assert.deepEqual(
    groupMembers(pgid),
    [],
    `C4: processes of the old attempt's group ${pgid} are alive after recovery\n${second.describe()}`,
  );
  assert.deepEqual(
    readJournal(box.journal).map((j) => j.attempt),
    [1, 2],
    'attempt 2 ran once',
  );
  box.cleanup();
  return { pgid, grandchild, recoveredMs };
}

test(`C4: no process of a killed engine's shell task survives recovery, ${TRIALS} trials`, async () => {
  const trials = await pool(
    Array.from({ length: TRIALS }, (_, i) => i),
    4,
    trial,
  );
  await sleep(2000);
  const leaked = trials.filter((t) => groupMembers(t.pgid).length > 0);
  assert.deepEqual(
    leaked.map((t) => [t.pgid, groupMembers(t.pgid)]),
    [],
    'C4: old groups alive 2 s after recovery',
  );
  const times = trials.map((t) => t.recoveredMs);
  console.log(
    `C4: 0 leaked processes in ${trials.length} trials (checked at the end of recovery and 2 s later); resume to end p50 ${ms(percentile(times, 50))}, p100 ${ms(percentile(times, 100))}`,
  );
});

/** Starts `wf`, waits for the shell task's checkpoint, SIGKILLs the engine; returns the group. */
async function killWhileRunning(args: string[], home: string): Promise<{ run: string; pgid: number }> {
  const p = rivet(args, { home });
  const checkpoint = await p.waitFor((l) => l.type === 'task.checkpoint' && l.task === 'work', 30_000);
  assert.ok(checkpoint !== undefined, p.describe());
  await sleep(100);
  await p.kill();
  const pgid = (checkpoint.data?.state as { pgid: number }).pgid;
  assert.ok(groupMembers(pgid).length > 0, 'the old group outlived the engine');
  return { run: checkpoint.run!, pgid };
}

const FOREVER = `name: c4_forever
tasks:
  work:
    shell:
      run: |
        sleep 1000 &
        wait
`;

test('C4: a task that does not run again leaves no process: orphaned run cancelled, or failed after MAX_INTERRUPTIONS', async () => {
  const box = sandbox('c4-final');
  const file = box.file('wf.yaml', FOREVER);
  // Cancelled while orphaned: `rivet runs cancel` takes the run over and cancels it.
  const orphan = await killWhileRunning(['run', file, '--json'], box.home);
  const cancel = await rivetDone(['runs', 'cancel', orphan.run], { home: box.home });
  assert.equal(cancel.exit.code, 0, cancel.describe());
  assert.match(cancel.stdout, /cancelled/);
  assert.deepEqual(groupMembers(orphan.pgid), [], 'C4: the cancelled orphan left its process group running');
  // Interrupted three times: the fourth engine fails the task instead of running it again.
  let last = await killWhileRunning(['run', file, '--json'], box.home);
  for (let k = 2; k <= MAX_INTERRUPTIONS; k++) {
    last = await killWhileRunning(['runs', 'resume', last.run, '--json'], box.home);
  }
  const final = await rivetDone(['runs', 'resume', last.run, '--json'], { home: box.home });
  assert.equal(final.exit.code, 1, `the task fails after ${MAX_INTERRUPTIONS} interruptions\n${final.describe()}`);
  assert.match(final.stdout, /the engine stopped 3 times while this task ran/);
  assert.deepEqual(
    groupMembers(last.pgid),
    [],
    'C4: the task failed after its interruptions left its process group running',
  );
  box.cleanup();
  console.log('C4: 0 leaked processes when the task is not run again (orphan cancelled; failed after 3 interruptions)');
});
