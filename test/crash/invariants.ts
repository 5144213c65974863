// The invariants of RELIABILITY.md section 4 (I1-I4, I6, and C10's "acknowledged commits survive"),
// checked against the external records: the journal, the HTTP recorder and what the `--json`
// stream acknowledged before each kill. Each check returns messages that say which invariant
// broke, for which unit, and with what evidence; an empty list means it holds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.ts';
import { replayRun } from '../../src/engine/replay.ts';
import { KindRegistry } from '../../src/kinds/registry.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { type JournalEntry, type OutLine, type Recorded, unitName } from './harness.ts';

export interface Expectations {
  /** Units whose every execution appends to the journal. */
  readonly journaled: ReadonlySet<string>;
  /** Units whose every execution POSTs to the recorder, by the path they POST to. */
  readonly posting: ReadonlyMap<string, string>;
  /** Units that must never execute (cache hits). */
  readonly neverRun?: ReadonlySet<string>;
}

export interface Observation {
  readonly runId: string;
  /** The run's final event log. */
  readonly events: readonly StoredEvent[];
  readonly journal: readonly JournalEntry[];
  readonly requests: readonly Recorded[];
  /** Every `--json` line of every process that worked on the run. */
  readonly acks: readonly OutLine[];
  /** SIGKILLs during the run (bounds re-execution, I3). */
  readonly kills: number;
}

interface UnitHistory {
  started: Set<number>;
  /** The attempt of the first durable success: nothing may execute after it. */
  succeeded: number | null;
  /** Successes recorded (more than one means completed work was done again). */
  successes: number;
  /** When the `--json` stream first acknowledged the success (test-process time). */
  ackedAt: number | null;
}

/**
 * A unit's life is cut into generations by `run.resumed` events that reset it (resuming a failed
 * run runs its failed tasks again, attempts counting from 1). Generation g of a unit spans from
 * its g-th reset to the next; effects are put in a generation by their wall time.
 */
class Generations {
  readonly #resets = new Map<string, number[]>();
  readonly #tasksWithItems = new Map<string, Set<string>>();

  constructor(events: readonly StoredEvent[]) {
    for (const e of events) {
      if (e.task !== null && e.item !== null) {
        let units = this.#tasksWithItems.get(e.task);
        if (units === undefined) this.#tasksWithItems.set(e.task, (units = new Set()));
        units.add(unitName(e.task, e.item));
      }
      if (e.type !== 'run.resumed') continue;
      const reset = (e.data?.reset ?? []) as { task: string; item: number | null }[];
      for (const r of reset) {
        const names =
          r.item === null || r.item === undefined
            ? [r.task, ...(this.#tasksWithItems.get(r.task) ?? [])]
            : [unitName(r.task, r.item)];
        for (const name of names) this.#resets.set(name, [...(this.#resets.get(name) ?? []), e.at]);
      }
    }
  }

  /** The generation of a unit at a wall time (ms). */
  at(name: string, wall: number): number {
    return (this.#resets.get(name) ?? []).filter((t) => t < wall).length;
  }

  /** The unit's current (last) generation. */
  last(name: string): number {
    return this.#resets.get(name)?.length ?? 0;
  }

  /** The generation of a unit right after an event of the log. */
  ofEvent(name: string, e: StoredEvent): number {
    return this.at(name, e.at + 0.5);
  }
}

const genKey = (name: string, gen: number): string => (gen === 0 ? name : `${name} (generation ${gen})`);

function histories(events: readonly StoredEvent[], gens: Generations, acks: readonly OutLine[], runId: string) {
  const out = new Map<string, UnitHistory>();
  const get = (key: string): UnitHistory => {
    let h = out.get(key);
    if (h === undefined) out.set(key, (h = { started: new Set(), succeeded: null, successes: 0, ackedAt: null }));
    return h;
  };
  for (const e of events) {
    if (e.task === null) continue;
    const name = unitName(e.task, e.item);
    const h = get(genKey(name, gens.ofEvent(name, e)));
    if (e.type === 'task.started' && e.attempt !== null) h.started.add(e.attempt);
    if (e.type === 'task.succeeded') {
      h.succeeded ??= e.attempt ?? 0;
      h.successes++;
    }
  }
  for (const l of acks) {
    if (l.type !== 'task.succeeded' || l.run !== runId || typeof l.task !== 'string' || l.at === undefined) continue;
    const name = unitName(l.task, l.item ?? null);
    const h = get(genKey(name, gens.at(name, Date.parse(l.at) + 0.5)));
    h.ackedAt ??= l.received;
  }
  return out;
}

/**
 * I1 (no lost completion, never executed after its success was durable), I3 (bounded
 * re-execution, one idempotency key per unit), "no effect without a durable start", and that
 * every expected effect happened. Returns violations and the executions per unit.
 */
export function checkExecutions(
  o: Observation,
  x: Expectations,
): { violations: string[]; executions: Map<string, number> } {
  const violations: string[] = [];
  const gens = new Generations(o.events);
  const units = histories(o.events, gens, o.acks, o.runId);
  const executions = new Map<string, number>();
  const count = (name: string, n: number): void => void executions.set(name, (executions.get(name) ?? 0) + n);
  for (const [key, h] of units) {
    if (h.successes > 1) violations.push(`I1: ${key} succeeded ${h.successes} times: completed work was done again`);
  }
  const journaled = new Map<string, JournalEntry[]>();
  for (const j of o.journal) {
    if (j.run !== o.runId) continue;
    const name = unitName(j.task, j.item);
    count(name, 1);
    const key = genKey(name, gens.at(name, j.at));
    journaled.set(key, [...(journaled.get(key) ?? []), j]);
  }
  for (const [key, entries] of journaled) {
    const h = units.get(key);
    const seen = new Set<number>();
    for (const j of entries) {
      if (seen.has(j.attempt)) violations.push(`I3/I5: ${key} attempt ${j.attempt} executed twice (journal)`);
      seen.add(j.attempt);
      if (h === undefined || !h.started.has(j.attempt)) {
        violations.push(
          `durable-before-act: ${key} attempt ${j.attempt} ran, but no task.started for it is in the store (journal)`,
        );
      }
      if (h?.succeeded !== null && h?.succeeded !== undefined && j.attempt > h.succeeded) {
        violations.push(`I1: ${key} executed again (attempt ${j.attempt}) after its success at attempt ${h.succeeded}`);
      }
    }
    if (entries.length > 1 + o.kills) {
      violations.push(`I3: ${key} executed ${entries.length} times with only ${o.kills} crash(es)`);
    }
    if (h?.succeeded !== null && h?.succeeded !== undefined && h.succeeded > 0 && !seen.has(h.succeeded)) {
      violations.push(`I1: ${key} succeeded at attempt ${h.succeeded}, which the journal never saw execute`);
    }
  }
  const posts = new Map<string, Recorded[]>();
  const unitOfPath = new Map([...x.posting].map(([u, p]) => [p, u]));
  for (const r of o.requests) {
    if (r.method !== 'POST') continue;
    const name = unitOfPath.get(r.path);
    if (name === undefined) continue;
    count(name, 1);
    const [task, item] = name.replace(/\]$/, '').split('[');
    const expected = item === undefined ? `${o.runId}/${task}` : `${o.runId}/${task}/${item}`;
    if (r.key !== expected) {
      violations.push(`I3: POST ${r.path} of ${name} carried Idempotency-Key ${r.key}, not ${expected}`);
    }
    const key = genKey(name, gens.at(name, r.wall));
    posts.set(key, [...(posts.get(key) ?? []), r]);
  }
  for (const [key, list] of posts) {
    const h = units.get(key);
    if (list.length > (h?.started.size ?? 0)) {
      violations.push(
        `durable-before-act: ${key} POSTed ${list.length} times but only ${h?.started.size ?? 0} attempt(s) started durably`,
      );
    }
    if (list.length > 1 + o.kills) violations.push(`I3: ${key} POSTed ${list.length} times with ${o.kills} crash(es)`);
    const ack = h?.ackedAt ?? null;
    const late = ack === null ? [] : list.filter((r) => r.at > ack);
    if (late.length > 0) {
      violations.push(`I1: ${key} POSTed ${late.length} time(s) after its success was acknowledged on --json`);
    }
  }
  for (const name of x.journaled) {
    if (x.neverRun?.has(name) !== true && !executions.has(name))
      violations.push(`effect missing: ${name} never journaled`);
  }
  for (const name of x.posting.keys()) {
    if (x.neverRun?.has(name) !== true && !executions.has(name))
      violations.push(`effect missing: ${name} never POSTed`);
  }
  for (const name of x.neverRun ?? []) {
    const n = executions.get(name) ?? 0;
    if (n > 0) violations.push(`cache: ${name} should have been a cache hit but executed ${n} time(s)`);
    const key = genKey(name, gens.last(name));
    if (units.get(key)?.succeeded !== 0) violations.push(`cache: ${key} did not succeed from the cache`);
  }
  return { violations, executions };
}

/**
 * C10: every event the `--json` stream showed (it shows only committed events) is still in the
 * store. `events` are the store's events of the runs the lines belong to.
 */
export function checkAcknowledged(
  acks: readonly OutLine[],
  events: ReadonlyMap<string, readonly StoredEvent[]>,
): string[] {
  const stored = new Map<string, number>();
  const key = (run: string, type: string, task: unknown, item: unknown, attempt: unknown, at: string): string =>
    `${run}|${type}|${String(task ?? null)}|${String(item ?? null)}|${String(attempt ?? null)}|${at}`;
  for (const [run, list] of events) {
    for (const e of list) {
      const k = key(run, e.type, e.task, e.item, e.attempt, new Date(e.at).toISOString());
      stored.set(k, (stored.get(k) ?? 0) + 1);
    }
  }
  const lost: string[] = [];
  for (const l of acks) {
    if (!/^(run|task)\./.test(l.type) || l.run === undefined || l.at === undefined) continue;
    const k = key(l.run, l.type, l.task, l.item, l.attempt, l.at);
    const n = stored.get(k) ?? 0;
    if (n === 0)
      lost.push(
        `C10: acknowledged ${l.type} ${unitName(String(l.task), l.item ?? null)} of ${l.run} is not in the store`,
      );
    else stored.set(k, n - 1);
  }
  return lost;
}

/** I4: per run, seq strictly increasing; every transition legal (a replay accepts the whole log). I6: replay = stored. */
export async function checkReplay(db: string, runId: string): Promise<string[]> {
  const problems: string[] = [];
  const store = new SqliteStore(db);
  const artifacts = mkdtempSync(join(tmpdir(), 'rivet-replay-'));
  try {
    const record = await store.getRun(runId);
    if (record === undefined) return [`no run ${runId}`];
    const events = await store.readEvents(runId);
    for (let i = 1; i < events.length; i++) {
      if (events[i]!.seq <= events[i - 1]!.seq) problems.push(`I4: seq not increasing at event ${i} of ${runId}`);
    }
    const engine = new Engine({ store, kinds: new KindRegistry(), artifactsRoot: artifacts });
    const replayed = await replayRun(engine, record);
    if (replayed.poisoned !== null) {
      problems.push(`I4: the event log of ${runId} does not replay: ${replayed.poisoned}`);
      return problems;
    }
    const m = replayed.machine;
    if (m.phase !== record.state) problems.push(`I6: replay says ${m.phase}, the run row says ${record.state}`);
    if (JSON.stringify(m.outputs) !== JSON.stringify(record.outputs)) {
      problems.push(
        `I6: replayed outputs ${JSON.stringify(m.outputs)} differ from stored ${JSON.stringify(record.outputs)}`,
      );
    }
    return problems;
  } finally {
    await store.close();
    rmSync(artifacts, { recursive: true, force: true });
  }
}

/** Executions per unit → how many units had that many executions. */
export function histogram(executions: Iterable<number>): Map<number, number> {
  const h = new Map<number, number>();
  for (const n of executions) h.set(n, (h.get(n) ?? 0) + 1);
  return new Map([...h].sort((a, b) => a[0] - b[0]));
}

export function formatHistogram(h: ReadonlyMap<number, number>): string {
  return [...h]
    .map(([n, units]) => `${n} execution${n === 1 ? '' : 's'}: ${units} unit${units === 1 ? '' : 's'}`)
    .join(', ');
}

/** Fails with every violation listed, plus context to debug it. */
export function assertNone(violations: readonly string[], context: () => string): void {
  if (violations.length === 0) return;
  const shown = violations.slice(0, 40).join('\n  ');
  const more = violations.length > 40 ? `\n  ... and ${violations.length - 40} more` : '';
  throw new Error(`${violations.length} invariant violation(s):\n  ${shown}${more}\n${context()}`);
}
