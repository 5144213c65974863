// C7 (RELIABILITY.md 4.1, Airflow #71272, Argo CVE-2026-40886): poisoned stored state must not
// crash the engine or make it crash-loop. Four interrupted runs are poisoned in the store: a
// workflow version using a kind that does not exist, a task's outputs cut mid-JSON, an event that
// is an illegal transition, and an event of an unknown type. Then: 10 consecutive engine starts
// each serve another run to success; `rivet runs list/show` still answer; `rivet runs resume` of
// each poisoned run ends it failed with a reason (exit 1, no stack trace), twice in a row; the
// auto-resume of `rivet run` fails a poisoned match cleanly and the next start runs a new run; a
// healthy interrupted run next to them still resumes.
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { JOURNAL_LINE, readStore, rivet, rivetDone, sandbox } from './harness.ts';

const GOOD = `name: good
inputs:
  journal: { type: string }
  n: { type: integer }
tasks:
  a:
    shell:
      run: '${JOURNAL_LINE}'
      env: { JOURNAL: "\${{ inputs.journal }}" }
  b:
    needs: a
    noop: {}
`;

const SLOW = `name: slow
inputs:
  journal: { type: string }
  n: { type: integer }
tasks:
  a:
    shell:
      run: '${JOURNAL_LINE}'
      env: { JOURNAL: "\${{ inputs.journal }}" }
  b:
    needs: a
    sleep: { duration: 60s }
  c:
    needs: b
    noop: {}
`;

const GHOST = `name: ghost
tasks:
  haunt:
    frobnicate: { loud: true }
`;

/** A stack trace or an uncaught error in the output means the process crashed. */
function assertNoCrash(p: { stderr: string; describe(): string }): void {
  assert.doesNotMatch(p.stderr, /^\s+at |TypeError|SyntaxError|RangeError|Uncaught/m, `crashed:\n${p.describe()}`);
}

test('C7: poisoned runs fail with a reason; the engine keeps serving other runs', async () => {
  const box = sandbox('c7');
  const good = box.file('good.yaml', GOOD);
  const slow = box.file('slow.yaml', SLOW);
  const home = { home: box.home };

  // Interrupted runs of `slow`, killed while `b` sleeps: n=1 stays healthy, n=2..4 get poisoned.
  const interrupted = new Map<number, string>();
  for (const n of [1, 2, 3, 4]) {
    const p = rivet(['run', slow, '--input', `journal=${box.journal}`, '--input', `n=${n}`, '--json'], home);
    const waiting = await p.waitFor((l) => l.type === 'task.waiting' && l.task === 'b', 30_000);
    assert.ok(waiting !== undefined, p.describe());
    await p.kill();
    interrupted.set(n, waiting.run!);
  }
  const [healthy, truncated, illegal, unknownType] = [1, 2, 3, 4].map((n) => interrupted.get(n)!) as [
    string,
    string,
    string,
    string,
  ];
  const db = new DatabaseSync(box.db);
  try {
    // A task's outputs cut in the middle of the JSON.
    db.prepare(
      "UPDATE events SET data = substr(data, 1, length(data) / 2) WHERE run_id = ? AND type = 'task.succeeded' AND task = 'a'",
    ).run(truncated);
    // A transition the state machine forbids: attempt 5 of `a` started after attempt 1 succeeded.
    db.prepare(
      "INSERT INTO events (run_id, type, task, item, attempt, at, data) VALUES (?, 'task.started', 'a', NULL, 5, ?, NULL)",
    ).run(illegal, Date.now());
    db.prepare(
      "INSERT INTO events (run_id, type, task, item, attempt, at, data) VALUES (?, 'task.exploded', 'b', NULL, 1, ?, '{}')",
    ).run(unknownType, Date.now());
    // A workflow version whose kind no longer exists (a plugin removed), and a run left on it.
    const now = Date.now();
    db.prepare(
      "INSERT INTO workflow_versions (version, name, file, source, created_at) VALUES ('ghost-v1', 'ghost', ?, ?, ?)",
    ).run(box.file('ghost.yaml', GHOST), GHOST, now);
    db.prepare(
      `INSERT INTO runs (id, workflow, version, state, trigger, inputs, created_at, started_at, epoch)
       VALUES ('ghostrun1', 'ghost', 'ghost-v1', 'running', 'cli', '{}', ?, ?, 1)`,
    ).run(now, now);
    db.prepare(
      `INSERT INTO events (run_id, type, task, item, attempt, at, data) VALUES
       ('ghostrun1', 'run.created', NULL, NULL, NULL, ?, '{"workflow":"ghost","version":"ghost-v1","inputs":{}}'),
       ('ghostrun1', 'run.started', NULL, NULL, NULL, ?, NULL)`,
    ).run(now, now);
  } finally {
    db.close();
  }
  const poisoned = new Map<string, string>([
    ['unknown kind', 'ghostrun1'],
    ['truncated JSON output', truncated],
    ['illegal transition', illegal],
    ['unknown event type', unknownType],
  ]);
  const reasons = new Map<string, RegExp>([
    ['unknown kind', /no longer validates.*frobnicate|unknown task kind|frobnicate/i],
    ['truncated JSON output', /JSON|Unterminated|Unexpected end/i],
    ['illegal transition', /task\.started for a in succeeded|task\.started attempt 5/],
    ['unknown event type', /unknown event type task\.exploded/],
  ]);

  // 10 consecutive engine starts, each serving a new run to success beside the poisoned ones.
  for (let k = 0; k < 10; k++) {
    const r = await rivetDone(
      ['run', good, '--input', `journal=${box.journal}`, '--input', `n=${100 + k}`, '--json'],
      home,
    );
    assertNoCrash(r);
    assert.equal(r.exit.code, 0, `engine start ${k + 1} did not serve its run\n${r.describe()}`);
  }
  const list = await rivetDone(['runs', 'list', '--json', '--limit', '100'], home);
  assertNoCrash(list);
  assert.equal(list.exit.code, 0, list.describe());
  for (const [what, id] of poisoned) {
    const show = await rivetDone(['runs', 'show', id, '--json'], home);
    assertNoCrash(show);
    // Either shown, or refused with a coded error that says what is wrong with the stored log.
    if (show.exit.code !== 0)
      assert.match(show.stderr, /^error RV606 the event log of run .* cannot be read/, `${what}\n${show.describe()}`);
  }

  // Resuming a poisoned run fails it with the reason, and does so again (no crash loop).
  const failed: string[] = [];
  for (const [what, id] of poisoned) {
    for (let attempt = 1; attempt <= 2; attempt++) {
      const r = await rivetDone(['runs', 'resume', id, '--json'], home);
      assertNoCrash(r);
      assert.equal(r.exit.code, 1, `resume ${attempt} of the run with the ${what} exits 1 (failed)\n${r.describe()}`);
      const finished = r.lines.find((l) => l.type === 'cli.finished') as { state?: string; error?: string } | undefined;
      assert.equal(finished?.state, 'failed', r.describe());
      assert.match(finished?.error ?? '', reasons.get(what)!, `the reason names the ${what}`);
    }
    const view = await readStore(box.db);
    const run = view.runs.find((r) => r.id === id)!;
    assert.equal(run.state, 'failed');
    assert.match(run.error ?? '', reasons.get(what)!);
    failed.push(`${what}: ${run.error}`);
  }

  // `rivet run` auto-resumes an interrupted run with the same inputs: a poisoned one fails cleanly,
  // and the next start begins a new run.
  const db2 = new DatabaseSync(box.db);
  const victim = rivet(['run', slow, '--input', `journal=${box.journal}`, '--input', 'n=5', '--json'], home);
  const waiting = await victim.waitFor((l) => l.type === 'task.waiting' && l.task === 'b', 30_000);
  assert.ok(waiting !== undefined, victim.describe());
  await victim.kill();
  db2
    .prepare(
      "UPDATE events SET data = '{\"outputs\":{\"exit_co' WHERE run_id = ? AND type = 'task.succeeded' AND task = 'a'",
    )
    .run(waiting.run!);
  db2.close();
  const auto = await rivetDone(['run', slow, '--input', `journal=${box.journal}`, '--input', 'n=5', '--json'], home);
  assertNoCrash(auto);
  assert.equal(auto.exit.code, 1, `auto-resume of a poisoned run fails it\n${auto.describe()}`);
  assert.ok(
    auto.lines.some((l) => l.type === 'cli.resumed' && l.run === waiting.run),
    auto.describe(),
  );
  const fresh = rivet(['run', slow, '--input', `journal=${box.journal}`, '--input', 'n=5', '--json'], home);
  const started = await fresh.waitFor((l) => l.type === 'cli.started', 30_000);
  assert.ok(started !== undefined && started.run !== waiting.run, `the next start runs a new run\n${fresh.describe()}`);
  await fresh.kill();

  // The healthy interrupted run still resumes (its 60 s sleep is cut short by moving its deadline).
  const db3 = new DatabaseSync(box.db);
  db3
    .prepare(
      `UPDATE events SET data = json_set(data, '$.state.deadline', ?) WHERE run_id = ? AND type = 'task.checkpoint' AND task = 'b'`,
    )
    .run(Date.now(), healthy);
  db3.close();
  const resumed = await rivetDone(['runs', 'resume', healthy, '--json'], home);
  assert.equal(resumed.exit.code, 0, `the healthy interrupted run resumes\n${resumed.describe()}`);

  console.log(
    `C7: 10/10 engine starts served their runs beside ${poisoned.size} poisoned runs; each poisoned run failed with a reason (twice, no crash):`,
  );
  for (const line of failed) console.log(`C7   ${line}`);
  box.cleanup();
});
