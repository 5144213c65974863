/**
 * Fixture builders for engine tests (STYLE.md anti-pattern 5): `makeEngine()` gives an Engine on
 * a fresh SQLite file in a temporary folder with a FakeClock, listeners that keep every event and
 * log line, and a controllable `probe` kind; `startFrom(yaml, inputs)` validates a workflow,
 * applies input defaults and starts a run. Tests wait on events (`waitFor`) or on gates the probe
 * kind blocks on, and move time with `clock.advance`, never with real sleeps (habit 7).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { FakeClock, settle } from '../../src/engine/clock.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { EngineEvent, EngineLog, EngineOptions, RunHandle, StartRequest } from '../../src/engine/types.ts';
import { BUILTIN_RUNTIME_KINDS, KindRegistry } from '../../src/kinds/registry.ts';
import { type FailureReason, type Kind, type TaskContext, TaskFailure } from '../../src/kinds/types.ts';
import { resolveInputs } from '../../src/model/inputs.ts';
import { validateWorkflowText } from '../../src/model/index.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

/** What one execution of the probe kind saw. */
export interface ProbeCall {
  readonly task: string;
  readonly item: number | null;
  readonly attempt: number;
  readonly idempotencyKey: string;
  readonly previous: unknown;
  readonly spec: ProbeSpec;
  /** The abort reason when the signal fired while the call waited on a gate. */
  aborted?: unknown;
}

const probeSpec = z.strictObject({
  /** Returned as the result. */
  result: z.record(z.string(), z.unknown()).optional(),
  /** Waits on this gate (released by the test) before returning. */
  gate: z.string().optional(),
  /** Only attempts up to this one wait on the gate (the attempt after a crash passes). */
  gate_attempts: z.int().optional(),
  /** Fails the first `times` attempts of each unit (every attempt when absent). */
  fail: z
    .strictObject({
      reason: z.string().optional(),
      message: z.string().optional(),
      times: z.int().optional(),
      status: z.int().optional(),
      exit_code: z.int().optional(),
      retry_after_ms: z.int().optional(),
      retryable: z.boolean().optional(),
    })
    .optional(),
  /** Fails while the test has this switch on (`probe.switches`): fails in one run, passes on resume. */
  fail_if: z.string().optional(),
  /** Logged on stdout. */
  log: z.string().optional(),
  /** Saved with ctx.checkpoint before anything else. */
  checkpoint: z.unknown().optional(),
  /** Files written into ctx.artifactsDir: name → content. */
  files: z.record(z.string(), z.string()).optional(),
  /** Makes the result this many bytes of JSON (for the output size limit). */
  big: z.int().optional(),
});
export type ProbeSpec = z.output<typeof probeSpec>;

/** Named gates that probe executions wait on, released by the test one at a time or all at once. */
export class Gates {
  readonly #waiting = new Map<string, { resolve: () => void; call: ProbeCall }[]>();
  readonly #open = new Set<string>();
  readonly #watchers: { name: string; count: number; resolve: () => void }[] = [];

  /** Called by the probe kind: resolves once released, rejects when the signal aborts. */
  wait(name: string, call: ProbeCall, signal: AbortSignal): Promise<void> {
    if (this.#open.has(name)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(name) ?? [];
      const entry = {
        call,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        call.aborted = signal.reason;
        const l = this.#waiting.get(name) ?? [];
        l.splice(l.indexOf(entry), 1);
        reject(new Error(`gate ${name} aborted: ${String(signal.reason)}`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      list.push(entry);
      this.#waiting.set(name, list);
      this.#notify();
    });
  }

  /** Executions waiting on a gate now. */
  waiting(name: string): ProbeCall[] {
    return (this.#waiting.get(name) ?? []).map((e) => e.call);
  }

  /** Resolves once at least `count` executions wait on the gate. */
  arrived(name: string, count = 1): Promise<void> {
    if (this.waiting(name).length >= count) return Promise.resolve();
    return guarded(
      new Promise((resolve) => this.#watchers.push({ name, count, resolve })),
      `${count} execution(s) at gate ${name}`,
    );
  }

  /** Releases the oldest `n` waiters. */
  release(name: string, n = 1): void {
    const list = this.#waiting.get(name) ?? [];
    for (const e of list.splice(0, n)) e.resolve();
  }

  /** Releases every waiter, now and later. */
  open(name: string): void {
    this.#open.add(name);
    this.release(name, Infinity);
  }

  #notify(): void {
    for (const w of [...this.#watchers]) {
      if (this.waiting(w.name).length >= w.count) {
        this.#watchers.splice(this.#watchers.indexOf(w), 1);
        w.resolve();
      }
    }
  }
}

/** The probe kind's shared record: calls, gates, and how many executions run at once per task. */
export class Probe {
  readonly calls: ProbeCall[] = [];
  readonly gates = new Gates();
  /** Names of `fail_if` switches that are on. */
  readonly switches = new Set<string>();
  readonly #running = new Map<string, number>();
  readonly maxRunning = new Map<string, number>();
  #total = 0;
  /** Most executions running at once, all tasks together. */
  maxTotal = 0;

  /** Calls of one task (optionally one item). */
  of(task: string, item?: number): ProbeCall[] {
    return this.calls.filter((c) => c.task === task && (item === undefined || c.item === item));
  }

  count(task: string): number {
    return this.of(task).length;
  }

  readonly kind: Kind<ProbeSpec> = {
    definition: {
      name: 'probe',
      description: 'A controllable kind for engine tests.',
      spec: probeSpec,
      outputs: 'dynamic',
    },
    execute: async (spec, ctx) => this.#execute(spec, ctx),
  };

  async #execute(spec: ProbeSpec, ctx: TaskContext): Promise<{ result: Record<string, unknown> }> {
    const call: ProbeCall = {
      task: ctx.taskId,
      item: ctx.item,
      attempt: ctx.attempt,
      idempotencyKey: ctx.idempotencyKey,
      previous: ctx.previous,
      spec,
    };
    this.calls.push(call);
    const now = (this.#running.get(ctx.taskId) ?? 0) + 1;
    this.#running.set(ctx.taskId, now);
    this.maxRunning.set(ctx.taskId, Math.max(now, this.maxRunning.get(ctx.taskId) ?? 0));
    this.maxTotal = Math.max(this.maxTotal, ++this.#total);
    try {
      if (spec.checkpoint !== undefined) await ctx.checkpoint(spec.checkpoint);
      if (spec.log !== undefined) ctx.logger.line('stdout', spec.log);
      for (const [name, content] of Object.entries(spec.files ?? {})) {
        writeFileSync(join(ctx.artifactsDir, name), content);
      }
      if (spec.gate !== undefined && ctx.attempt <= (spec.gate_attempts ?? Infinity)) {
        await this.gates.wait(spec.gate, call, ctx.signal);
      }
      if (spec.fail_if !== undefined && this.switches.has(spec.fail_if)) {
        throw new TaskFailure('error', `switch ${spec.fail_if} is on`);
      }
      const f = spec.fail;
      if (f !== undefined && (f.times === undefined || ctx.attempt <= f.times)) {
        throw new TaskFailure((f.reason ?? 'error') as FailureReason, f.message ?? `attempt ${ctx.attempt} failed`, {
          ...(f.status === undefined ? {} : { status: f.status }),
          ...(f.exit_code === undefined ? {} : { exitCode: f.exit_code }),
          ...(f.retry_after_ms === undefined ? {} : { retryAfterMs: f.retry_after_ms }),
          ...(f.retryable === undefined ? {} : { retryable: f.retryable }),
        });
      }
      if (spec.big !== undefined) return { result: { blob: 'x'.repeat(spec.big) } };
      return { result: { ...(spec.result ?? {}) } };
    } finally {
      this.#total--;
      this.#running.set(ctx.taskId, (this.#running.get(ctx.taskId) ?? 1) - 1);
    }
  }
}

export interface EngineFixture {
  readonly engine: Engine;
  readonly store: SqliteStore;
  readonly clock: FakeClock;
  /** The temporary folder: rivet.db, artifacts/, and workflow files. */
  readonly dir: string;
  readonly dbPath: string;
  readonly kinds: KindRegistry;
  readonly probe: Probe;
  readonly events: EngineEvent[];
  readonly logs: EngineLog[];
  /** Validates `yaml` (written to `file` in `dir`), resolves `inputs` and starts a run. */
  startFrom(
    yaml: string,
    inputs?: Record<string, unknown>,
    request?: Partial<Omit<StartRequest, 'source' | 'inputs'>> & { file?: string },
  ): Promise<RunHandle>;
  /** Writes a file into `dir`; returns its path. */
  write(name: string, text: string): string;
  /** Resolves with the first event (past or future) matching `match`. */
  waitFor(match: (e: EngineEvent) => boolean): Promise<EngineEvent>;
  /** Events of one run, optionally of one type. */
  eventsOf(runId: string, type?: string): EngineEvent[];
  /** A second engine on the same store and clock (its own listeners: events go to the same lists). */
  another(overrides?: Partial<EngineOptions>): Engine;
  close(): Promise<void>;
}

export interface MakeEngineOptions {
  readonly overrides?: Partial<EngineOptions>;
  /** Extra kinds besides the built-in ones and `probe`. */
  readonly kinds?: readonly Kind[];
  readonly secrets?: Readonly<Record<string, string>>;
}

/** A fresh engine on a fresh SQLite file; close it with `fixture.close()`. */
export function makeEngine(options: MakeEngineOptions = {}): EngineFixture {
  const dir = mkdtempSync(join(tmpdir(), 'rivet-engine-test-'));
  const dbPath = join(dir, 'rivet.db');
  const store = new SqliteStore(dbPath);
  const clock = new FakeClock();
  const probe = new Probe();
  const kinds = new KindRegistry([...BUILTIN_RUNTIME_KINDS, probe.kind as Kind, ...(options.kinds ?? [])]);
  const events: EngineEvent[] = [];
  const logs: EngineLog[] = [];
  const watchers: { match: (e: EngineEvent) => boolean; resolve: (e: EngineEvent) => void }[] = [];
  const engines: Engine[] = [];
  const build = (overrides: Partial<EngineOptions> = {}): Engine => {
    const engine = new Engine({
      store,
      kinds,
      artifactsRoot: join(dir, 'artifacts'),
      clock,
      random: () => 0.5,
      commandPollMs: 5,
      ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
      ...options.overrides,
      ...overrides,
    });
    engine.on({
      event: (e) => {
        events.push(e);
        for (const w of [...watchers]) {
          if (w.match(e)) {
            watchers.splice(watchers.indexOf(w), 1);
            w.resolve(e);
          }
        }
      },
      log: (l) => logs.push(l),
    });
    engines.push(engine);
    return engine;
  };
  const engine = build();
  let counter = 0;
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  return {
    engine,
    store,
    clock,
    dir,
    dbPath,
    kinds,
    probe,
    events,
    logs,
    write,
    async startFrom(yaml, inputs = {}, request = {}) {
      const { file: name, ...rest } = request;
      const checked = validateWorkflowText(yaml, { kinds: kinds.definitions });
      assert.ok(
        checked.workflow !== undefined,
        checked.diagnostics.map((d) => `${d.code} ${d.line}:${d.col} ${d.message}`).join('\n'),
      );
      const resolved = resolveInputs(checked.workflow.document.inputs, inputs);
      assert.ok(resolved.ok, resolved.ok ? '' : resolved.problems.map((p) => p.message).join('; '));
      const file = write(name ?? `wf-${++counter}.yaml`, yaml);
      return engine.startRun({
        source: { workflow: checked.workflow, version: `v-${counter}-${yamlHash(yaml)}`, file, source: yaml },
        inputs: resolved.values,
        ...rest,
      });
    },
    waitFor(match) {
      const seen = events.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return guarded(
        new Promise((resolve) => watchers.push({ match, resolve })),
        `an event matching ${match.toString()}`,
      );
    },
    eventsOf(runId, type) {
      return events.filter((e) => e.runId === runId && (type === undefined || e.type === type));
    },
    another: build,
    async close() {
      for (const e of engines) await e.close().catch(() => undefined);
      await settle();
      await store.close();
      removeTree(dir);
    },
  };
}

/**
 * Rejects when `promise` has not settled within SAFETY_NET_MS of real time. Not a timed
 * assertion: a safety net, so an event that never comes fails its test with a message instead
 * of hanging the whole suite.
 */
export function guarded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const net = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting for ${what} after ${SAFETY_NET_MS} ms`)), SAFETY_NET_MS);
    timer.unref();
  });
  return Promise.race([promise, net]).finally(() => clearTimeout(timer));
}

const SAFETY_NET_MS = 10_000;

/** rm -rf that first makes sealed (read-only) artifact folders writable again. */
function removeTree(dir: string): void {
  const walk = (d: string): void => {
    chmodSync(d, 0o755);
    for (const entry of readdirSync(d, { withFileTypes: true })) if (entry.isDirectory()) walk(join(d, entry.name));
  };
  walk(dir);
  rmSync(dir, { recursive: true, force: true });
}

function yamlHash(text: string): string {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  return (h >>> 0).toString(16);
}

/** Resolves on the next event matching, after advancing the fake clock in `step` ms until it comes. */
export async function advanceUntil(
  fx: Pick<EngineFixture, 'clock' | 'waitFor'>,
  match: (e: EngineEvent) => boolean,
  step: number,
  maxSteps = 1000,
): Promise<EngineEvent> {
  let got: EngineEvent | undefined;
  void fx.waitFor(match).then((e) => (got = e));
  for (let i = 0; i < maxSteps && got === undefined; i++) await fx.clock.advance(step);
  await settle();
  assert.ok(got !== undefined, 'the awaited event never came');
  return got;
}
