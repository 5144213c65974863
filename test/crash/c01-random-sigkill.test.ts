// C1 (RELIABILITY.md 4.1) and C10: a 200-task run SIGKILLed at random instants, resumed after each
// kill (`rivet run FILE` finds the interrupted run, or `rivet runs resume RUN`), until it
// succeeds. After every kill: `PRAGMA integrity_check` is ok and every event the killed process
// had acknowledged on its --json stream is still in the store (C10: no acknowledged-then-lost
// commit). At the end: I1-I4, I6 against the journal and the HTTP recorder.
//
// CI: 20 kills x 5 seeds (a run that finishes before its 20th kill is followed by a fresh run of
// the same DAG). RIVET_STRESS=N runs 5 x N seeds (nightly 10 = 1,000 kills).
// RIVET_SEED=<n> sets the first seed. Figures are printed: executions-per-unit histogram,
// restart-to-first-progress, extra wall time per kill.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateDag } from './dag.ts';
import {
  BASE_SEED,
  JOURNAL_LINE,
  mean,
  ms,
  type OutLine,
  percentile,
  prng,
  readJournal,
  readStore,
  Recorder,
  rivet,
  type RivetProcess,
  sandbox,
  sleep,
  STRESS,
} from './harness.ts';
import {
  assertNone,
  checkAcknowledged,
  checkExecutions,
  checkReplay,
  formatHistogram,
  histogram,
} from './invariants.ts';

const SEEDS = Array.from({ length: 5 * STRESS }, (_, i) => (BASE_SEED + i) >>> 0);
const KILLS_PER_SEED = 20;
/** How long a process may run after its first task success before the kill (upper bound, ms). */
const KILL_WINDOW_MS = 120;
/** Share of kills aimed at the start-up and recovery window instead (before any progress). */
const EARLY_KILLS = 0.2;

const isProgress = (l: OutLine): boolean => l.type === 'task.started' || l.type === 'task.succeeded';

interface SeedResult {
  readonly seed: number;
  readonly kills: number;
  /** Runs of the DAG it took to deliver the kills (a run may finish before all of them). */
  readonly runs: number;
  readonly executions: Map<string, number>;
  readonly restartToProgress: number[];
  readonly baselineMs: number;
  readonly killedWallMs: number;
  readonly failedResumes: string[];
  readonly acknowledged: number;
}

interface RoundResult {
  readonly kills: number;
  readonly executions: Map<string, number>;
  readonly restartToProgress: number[];
  readonly wallMs: number;
  readonly failedResumes: string[];
  readonly acknowledged: number;
}

type Dag = ReturnType<typeof generateDag>;

/** One run of the DAG, killed up to `killsWanted` times and resumed until it succeeds, then checked. */
async function killRound(
  seed: number,
  round: number,
  dag: Dag,
  random: () => number,
  killsWanted: number,
  recorder: Recorder,
): Promise<RoundResult> {
  const inputs = (journal: string) => ['--input', `journal=${journal}`, '--input', `base=${recorder.url}`];
  const box = sandbox(`c1-${seed}-${round}`);
  const file = box.file('dag.yaml', dag.yaml);
  const procs: RivetProcess[] = [];
  const restartToProgress: number[] = [];
  const failedResumes: string[] = [];
  const context = (): string =>
    `seed ${seed} round ${round} (rerun with RIVET_SEED=${seed}); store ${box.db}\nlast process: ${procs.at(-1)?.describe() ?? '-'}`;
  let runId: string | undefined;
  let kills = 0;
  let failedLast = false;
  for (let n = 0; n < 200; n++) {
    const viaResume = runId !== undefined && (failedLast || n % 2 === 0);
    const args = viaResume ? ['runs', 'resume', runId!, '--json'] : ['run', file, ...inputs(box.journal), '--json'];
    const p = rivet(args, { home: box.home });
    procs.push(p);
    let killed = false;
    if (kills < killsWanted) {
      if (random() < EARLY_KILLS) await Promise.race([sleep(random() * 400), p.exited]);
      else {
        await p.waitFor((l) => l.type === 'task.succeeded', 30_000);
        await Promise.race([sleep(random() * KILL_WINDOW_MS), p.exited]);
      }
      if (p.running) {
        await p.kill();
        killed = true;
        kills++;
      }
    }
    const exit = await p.done(120_000);
    const progress = p.lines.find(isProgress);
    if (n > 0 && progress !== undefined) restartToProgress.push(progress.received - p.spawnedAt);
    runId ??= p.lines.find((l) => l.run !== undefined)?.run;
    const view = await readStore(box.db).catch(() => undefined);
    if (view !== undefined) {
      assert.equal(view.integrity, 'ok', `PRAGMA integrity_check after kill ${kills}: ${view.integrity}\n${context()}`);
      runId ??= view.runs[0]?.id;
      const acks = procs.flatMap((q) => q.lines);
      assertNone(checkAcknowledged(acks, view.events), context);
    }
    assert.ok((view?.runs.length ?? 0) <= 1, `a second run was started instead of resuming the first\n${context()}`);
    const record = view?.runs[0];
    if (record?.state === 'succeeded') break; // also when the kill came after the final commit
    // A task interrupted MAX_INTERRUPTIONS times fails the run (by design); resuming retries it.
    failedLast = record?.state === 'failed';
    if (failedLast) {
      failedResumes.push(record!.error ?? '');
      assert.match(
        record!.error ?? '',
        /the engine stopped \d+ times while this task ran/,
        `the run failed for another reason\n${context()}`,
      );
    }
    if (!killed) assert.notEqual(exit.code, 0, `exit 0 but the run is not succeeded in the store\n${context()}`);
  }
  assert.ok(runId !== undefined, `seed ${seed}: no run was ever created\n${context()}`);

  const view = await readStore(box.db);
  assert.equal(
    view.runs.length,
    1,
    `exactly one run: an interrupted run must be resumed, not started again\n${context()}`,
  );
  assert.equal(view.runs[0]!.state, 'succeeded', `the run ends succeeded\n${context()}`);
  const acks = procs.flatMap((q) => q.lines);
  const { violations, executions } = checkExecutions(
    {
      runId,
      events: view.events.get(runId)!,
      journal: readJournal(box.journal),
      requests: recorder.records.filter((r) => r.key?.startsWith(`${runId}/`) === true),
      acks,
      kills,
    },
    dag.expect,
  );
  violations.push(...checkAcknowledged(acks, view.events), ...(await checkReplay(box.db, runId)));
  assertNone(violations, context);
  const wallMs = procs.reduce((sum, q) => sum + (q.exitedAt! - q.spawnedAt), 0);
  box.cleanup();
  return { kills, executions, restartToProgress, wallMs, failedResumes, acknowledged: acks.length };
}

async function runSeed(seed: number, recorder: Recorder): Promise<SeedResult> {
  const dag = generateDag(seed);
  const random = prng(seed ^ 0x9e3779b9);

  // The uninterrupted baseline, in its own store (its POSTs go to paths of another run id).
  const base = sandbox(`c1-base-${seed}`);
  const baseline = rivet(
    [
      'run',
      base.file('dag.yaml', dag.yaml),
      '--input',
      `journal=${base.journal}`,
      '--input',
      `base=${recorder.url}`,
      '--json',
    ],
    { home: base.home },
  );
  const baseExit = await baseline.done(120_000);
  assert.equal(baseExit.code, 0, `seed ${seed}: the uninterrupted run failed\n${baseline.describe()}`);
  const baselineMs = baseline.exitedAt! - baseline.spawnedAt;
  base.cleanup();

  const rounds: RoundResult[] = [];
  let kills = 0;
  while (kills < KILLS_PER_SEED && rounds.length < 5) {
    const r = await killRound(seed, rounds.length, dag, random, KILLS_PER_SEED - kills, recorder);
    rounds.push(r);
    kills += r.kills;
  }
  const executions = new Map<string, number>();
  for (const [i, r] of rounds.entries()) for (const [u, n] of r.executions) executions.set(`${i}:${u}`, n);
  return {
    seed,
    kills,
    runs: rounds.length,
    executions,
    restartToProgress: rounds.flatMap((r) => r.restartToProgress),
    baselineMs,
    killedWallMs: rounds.reduce((s, r) => s + r.wallMs, 0) - (rounds.length - 1) * baselineMs,
    failedResumes: rounds.flatMap((r) => r.failedResumes),
    acknowledged: rounds.reduce((s, r) => s + r.acknowledged, 0),
  };
}

test(`C1/C10: random SIGKILL of a 200-task run, ${KILLS_PER_SEED} kills x ${SEEDS.length} seeds`, async () => {
  const recorder = await new Recorder().start();
  const results: SeedResult[] = [];
  try {
    for (const seed of SEEDS) {
      const r = await runSeed(seed, recorder);
      results.push(r);
      console.log(
        `C1 seed ${seed}: ${r.kills} kills in ${r.runs} run(s), baseline ${ms(r.baselineMs)}, with kills ${ms(r.killedWallMs)}, ` +
          `${r.failedResumes.length} resume(s) after MAX_INTERRUPTIONS`,
      );
    }
  } finally {
    await recorder.stop();
  }
  const kills = results.reduce((s, r) => s + r.kills, 0);
  const restarts = results.flatMap((r) => r.restartToProgress);
  const extra = results.map((r) => (r.killedWallMs - r.baselineMs) / Math.max(1, r.kills));
  const all = histogram(results.flatMap((r) => [...r.executions.values()]));
  console.log(`C1: ${kills} kills over ${results.length} seeds (${SEEDS.join(', ')}), 0 violations`);
  console.log(`C1: executions per unit (shell + http units): ${formatHistogram(all)}`);
  console.log(
    `C1: restart to first task progress: p50 ${ms(percentile(restarts, 50))}, p100 ${ms(percentile(restarts, 100))} (${restarts.length} restarts)`,
  );
  console.log(`C1: extra wall time per kill vs an uninterrupted run: mean ${ms(mean(extra))}`);
  console.log(
    `C10: ${results.reduce((s, r) => s + r.acknowledged, 0)} acknowledged --json lines, 0 acknowledged-then-lost commits over ${kills} kills`,
  );
  assert.equal(kills, KILLS_PER_SEED * SEEDS.length, 'every seed delivered its kills');
  // RELIABILITY.md 4.1 targets for a 200-task run on SQLite.
  assert.ok(percentile(restarts, 100) <= 1_000, 'restart to first task progress: target <= 1 s p100');
  assert.ok(mean(extra) <= 1_500, 'extra wall time per kill: target <= 1.5 s (mean)');
});

test('C1 cache invariant: a task needing a task with the same cache key is a hit, never a second execution', async () => {
  const box = sandbox('c1-cache');
  const file = box.file(
    'wf.yaml',
    `name: twins
inputs:
  journal: { type: string }
tasks:
  original:
    cache: { key: "k-\${{ run.id }}" }
    shell:
      run: '${JOURNAL_LINE}'
      env: { JOURNAL: "\${{ inputs.journal }}" }
  twin:
    needs: original
    cache: { key: "k-\${{ run.id }}" }
    shell:
      run: '${JOURNAL_LINE}'
      env: { JOURNAL: "\${{ inputs.journal }}" }
`,
  );
  const p = rivet(['run', file, '--input', `journal=${box.journal}`, '--json'], { home: box.home });
  assert.equal((await p.done()).code, 0, p.describe());
  assert.deepEqual(
    readJournal(box.journal).map((j) => j.task),
    ['original'],
    'the twin is answered from the cache written with its need’s success (same batch, not yet committed)',
  );
  const hit = p.lines.find((l) => l.type === 'task.succeeded' && l.task === 'twin');
  assert.ok(hit?.data?.cached !== undefined, p.describe());
  box.cleanup();
});
