// C9 (RELIABILITY.md 4.1, StackStorm #4503): two engines on one SQLite store. A run is interrupted
// (SIGKILL while a task sleeps), then `rivet runs resume RUN` is started twice at the same moment.
// Exactly one executes the run; the other exits non-zero with RV603 and a clear message; the
// journal shows no task executed twice (no two executors of one run).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOURNAL_LINE, pool, readJournal, readStore, rivet, sandbox, STRESS, unitName } from './harness.ts';
import { assertNone, checkExecutions } from './invariants.ts';

const TRIALS = 20 * STRESS;

const WORKFLOW = `name: c9
inputs:
  journal: { type: string }
tasks:
  first:
    shell:
      run: '${JOURNAL_LINE}'
      env: { JOURNAL: "\${{ inputs.journal }}" }
  wait:
    needs: first
    sleep: { duration: 1500ms }
  fan:
    needs: wait
    for_each: [0, 1, 2, 3, 4]
    shell:
      run: '${JOURNAL_LINE}'
      env: { JOURNAL: "\${{ inputs.journal }}", ITEM: "\${{ index }}" }
  last:
    needs: fan
    shell:
      run: '${JOURNAL_LINE}'
      env: { JOURNAL: "\${{ inputs.journal }}" }
`;

async function trial(i: number): Promise<string> {
  const box = sandbox(`c9-${i}`);
  const file = box.file('wf.yaml', WORKFLOW);
  const first = rivet(['run', file, '--input', `journal=${box.journal}`, '--json'], { home: box.home });
  const waiting = await first.waitFor((l) => l.type === 'task.waiting' && l.task === 'wait', 30_000);
  assert.ok(waiting !== undefined, first.describe());
  await first.kill();
  const runId = waiting.run!;
  const [a, b] = [0, 1].map(() => rivet(['runs', 'resume', runId, '--json'], { home: box.home }));
  const exits = await Promise.all([a!.done(30_000), b!.done(30_000)]);
  const context = (): string => `trial ${i}, store ${box.db}\n${a!.describe()}\n${b!.describe()}`;
  const winners = exits.filter((e) => e.code === 0).length;
  assert.equal(
    winners,
    1,
    `C9: exactly one engine executes the run (exit codes ${exits.map((e) => e.code).join(', ')})\n${context()}`,
  );
  const loser = exits[0]!.code === 0 ? b! : a!;
  assert.notEqual(loser.exitedAt, null);
  assert.match(
    loser.stderr,
    /^error RV603 run \S+ is being executed by pid \d+ on \S+\n {2}hint: only one engine executes a run/m,
    `C9: the second engine refuses with RV603 and says who holds the run\n${context()}`,
  );
  assert.equal(loser.lines.filter((l) => /^(task|run)\./.test(l.type)).length, 0, 'the refused engine did nothing');
  const view = await readStore(box.db);
  assert.equal(view.runs[0]!.state, 'succeeded');
  const journal = readJournal(box.journal);
  const expect = {
    journaled: new Set(['first', 'last', ...[0, 1, 2, 3, 4].map((k) => unitName('fan', k))]),
    posting: new Map(),
  };
  const { violations, executions } = checkExecutions(
    {
      runId,
      events: view.events.get(runId)!,
      journal,
      requests: [],
      acks: [...first.lines, ...a!.lines, ...b!.lines],
      kills: 1,
    },
    expect,
  );
  for (const [unit, n] of executions)
    if (unit !== 'first' && n !== 1) violations.push(`C9: ${unit} executed ${n} times`);
  assertNone(violations, context);
  box.cleanup();
  return loser.stderr.split('\n')[0]!;
}

test(`C9: two engines resume one run at once: one executes, one refuses (RV603), ${TRIALS} trials`, async () => {
  const messages = await pool(
    Array.from({ length: TRIALS }, (_, i) => i),
    5,
    trial,
  );
  console.log(`C9: ${messages.length}/${TRIALS} refused with RV603, 0 duplicate executions; e.g. "${messages[0]}"`);
});
