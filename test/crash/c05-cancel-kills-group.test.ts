// C5 (RELIABILITY.md 4.1, DESIGN.md section 5): cancelling a run whose shell task ignores SIGTERM.
// The script traps TERM (and logs it), and a grandchild ignores it; both keep running until the
// engine sends SIGKILL after the grace period (10 s, the engine's default). Half the trials cancel
// with `rivet runs cancel RUN` from another process, half with SIGINT to `rivet run` (Ctrl-C).
// Pass: SIGTERM within 1 s of the cancel; the whole group gone within grace + 1 s of the SIGTERM,
// and not before the grace ran out; the run cancelled; `rivet run` exits 130.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import {
  groupMembers,
  ms,
  percentile,
  pool,
  readJournal,
  readStore,
  rivet,
  sandbox,
  sleep,
  STRESS,
} from './harness.ts';

const TRIALS = 50 * STRESS;
const GRACE_MS = 10_000;

// The script takes a lock that every member of its group inherits (fd 9); a watcher outside the
// group (flock) gets it the moment the last member dies: an exact, external time of death.
const WORKFLOW = `name: c5
inputs:
  journal: { type: string }
  lock: { type: string }
tasks:
  stubborn:
    shell:
      run: |
        exec 9>"$LOCK"
        flock -x 9
        trap 'echo "$RIVET_RUN_ID $RIVET_TASK_ID - $RIVET_ATTEMPT \${EPOCHREALTIME:-0} term" >> "$JOURNAL"' TERM
        (trap '' TERM; exec sleep 1000) &
        echo "$RIVET_RUN_ID $RIVET_TASK_ID - $RIVET_ATTEMPT \${EPOCHREALTIME:-0} started $$" >> "$JOURNAL"
        while true; do wait; sleep 0.5; done
      env: { JOURNAL: "\${{ inputs.journal }}", LOCK: "\${{ inputs.lock }}" }
`;

async function trial(i: number): Promise<{ goneMs: number; termMs: number; how: string }> {
  const box = sandbox(`c5-${i}`);
  const file = box.file('wf.yaml', WORKFLOW);
  const lock = box.file('lock', '');
  const run = rivet(['run', file, '--input', `journal=${box.journal}`, '--input', `lock=${lock}`, '--json'], {
    home: box.home,
  });
  const context = (): string => `trial ${i}, store ${box.db}\n${run.describe()}`;
  const checkpoint = await run.waitFor((l) => l.type === 'task.checkpoint' && l.task === 'stubborn', 60_000);
  assert.ok(checkpoint !== undefined, `the task started\n${context()}`);
  const pgid = (checkpoint.data?.state as { pgid: number }).pgid;
  for (let k = 0; k < 500 && !readJournal(box.journal).some((j) => j.extra.startsWith('started')); k++) await sleep(10);
  const watcher = spawn('flock', ['-x', lock, 'bash', '-c', 'echo $EPOCHREALTIME'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let watched = '';
  watcher.stdout.on('data', (b: Buffer) => (watched += b.toString()));
  const watcherDone = new Promise((done) => watcher.once('exit', done));
  await sleep(200); // the trap and the loop are installed
  const how = i % 2 === 0 ? 'rivet runs cancel' : 'SIGINT';
  let cancelledAt: number; // wall time of the cancel request
  if (how === 'SIGINT') {
    cancelledAt = Date.now();
    run.child.kill('SIGINT');
  } else {
    const cancel = rivet(['runs', 'cancel', checkpoint.run!], { home: box.home });
    assert.equal((await cancel.done()).code, 0, `rivet runs cancel failed\n${cancel.describe()}`);
    assert.match(cancel.stdout, /asked the process running/);
    cancelledAt = Date.now() - (performance.now() - cancel.exitedAt!); // durable once the command returned
  }
  const exit = await run.done(GRACE_MS + 30_000);
  await Promise.race([watcherDone, sleep(5_000)]);
  watcher.kill('SIGKILL');
  const term = readJournal(box.journal).find((j) => j.extra === 'term');
  assert.ok(term !== undefined, `C5 (${how}): the script never got SIGTERM before SIGKILL\n${context()}`);
  const goneMs = Number(watched.trim()) * 1000 - term.at;
  assert.ok(
    watched.trim() !== '' && Number.isFinite(goneMs),
    `C5 (${how}): the group's lock was not released in time: the group lives on (watcher said ${JSON.stringify(watched)})\n${context()}\njournal ${JSON.stringify(readJournal(box.journal))}`,
  );
  assert.ok(
    goneMs >= GRACE_MS - 300,
    `C5 (${how}): the group died ${ms(goneMs)} after SIGTERM, before the grace ran out`,
  );
  assert.ok(
    goneMs <= GRACE_MS + 1_000,
    `C5 (${how}): the group was gone ${ms(goneMs)} after SIGTERM, more than grace + 1 s\n${context()}`,
  );
  const termMs = term.at - cancelledAt;
  assert.ok(termMs <= 1_000, `C5 (${how}): SIGTERM came ${ms(termMs)} after the cancel\n${context()}`);
  assert.deepEqual(groupMembers(pgid), [], `C5 (${how}): members of the group are still alive`);
  assert.equal(exit.code, 130, `rivet run exits 130 when cancelled\n${context()}`);
  const view = await readStore(box.db);
  assert.equal(view.runs[0]!.state, 'cancelled', `the run is cancelled\n${context()}`);
  box.cleanup();
  return { goneMs, termMs, how };
}

test(`C5: cancel kills a shell task that ignores SIGTERM (grace ${GRACE_MS} ms), ${TRIALS} trials`, async () => {
  const results = await pool(
    Array.from({ length: TRIALS }, (_, i) => i),
    // 25 at a time: with 50 at once, the engines' own polling of /proc while they wait for their
    // groups to die (50 x 10 scans of /proc per second) loads a 2-core box enough to delay the kill.
    25,
    async (i) => {
      if (i < 25) await sleep(i * 100); // staggered starts of the first wave
      return trial(i);
    },
  );
  for (const how of ['rivet runs cancel', 'SIGINT']) {
    const mine = results.filter((r) => r.how === how);
    const gone = mine.map((r) => r.goneMs);
    const term = mine.map((r) => r.termMs);
    console.log(
      `C5 (${how}): ${mine.length}/${mine.length} groups gone (SIGTERM ignored, SIGKILL after the grace); ` +
        `cancel to SIGTERM p100 ${ms(percentile(term, 100))}; SIGTERM to group gone p50 ${ms(percentile(gone, 50))}, p100 ${ms(percentile(gone, 100))} (limit ${ms(GRACE_MS + 1000)})`,
    );
  }
});
