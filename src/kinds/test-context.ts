/**
 * A TaskContext for kind tests: a real AbortController, a logger that keeps its lines, a clock
 * whose sleeps are instant (or real), checkpoints kept in a list, `evaluate` backed by the real
 * template evaluator, and `redact` that masks a given list of secrets. Shared by every kind's tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { evaluateTemplate } from '../expr/index.ts';
import type { Clock, LogStream, TaskContext } from './types.ts';

/** A clock for tests. Instant mode: `sleep` moves time forward at once. Real mode: it really waits. */
export class TestClock implements Clock {
  #now: number;
  instant: boolean;
  /** Every `sleep` asked for, in ms. */
  readonly sleeps: number[] = [];

  constructor(options: { start?: number; instant?: boolean } = {}) {
    this.#now = options.start ?? Date.UTC(2026, 0, 1);
    this.instant = options.instant ?? true;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) throw signal.reason;
    if (this.instant) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw signal.reason;
    } else {
      const started = Date.now();
      await delay(ms, undefined, { signal }).catch(() => {
        throw signal?.reason;
      });
      ms = Date.now() - started;
    }
    this.#now += ms;
  }
}

export interface LoggedLine {
  readonly stream: LogStream;
  readonly text: string;
}

export interface TestContextOptions extends Partial<Omit<TaskContext, 'signal' | 'clock'>> {
  /** Values `redact` turns into `***`. */
  readonly secrets?: readonly string[];
  /** The scope `evaluate` sees besides its `extra` (inputs, tasks…). */
  readonly scope?: Readonly<Record<string, unknown>>;
  readonly clock?: Clock;
}

export interface TestTaskContext extends TaskContext {
  readonly controller: AbortController;
  readonly lines: LoggedLine[];
  readonly checkpoints: unknown[];
  /** How many times `waiting()` was called. */
  readonly waitingCalls: () => number;
  /** Aborts the signal with a reason ('cancelled' by default). */
  abort(reason?: unknown): void;
  /** Removes the artifacts folder if one was created. */
  dispose(): void;
}

function unavailable(name: string): never {
  throw new Error(`${name} is not available in this test context`);
}

function redactor(secrets: readonly string[]): (text: string) => string {
  const sorted = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => sorted.reduce((out, s) => out.replaceAll(s, '***'), text);
}

/** A fresh context; anything in `overrides` replaces the default of the same name. */
export function makeTaskContext(overrides: TestContextOptions = {}): TestTaskContext {
  const { secrets = [], scope = {}, clock = new TestClock(), ...rest } = overrides;
  const controller = new AbortController();
  const lines: LoggedLine[] = [];
  const checkpoints: unknown[] = [];
  let waiting = 0;
  let artifacts: string | undefined;
  const ctx: TestTaskContext = {
    runId: 'run-1',
    taskId: 'task-1',
    item: null,
    attempt: 1,
    idempotencyKey: 'run-1/task-1',
    signal: controller.signal,
    logger: { line: (stream, text) => void lines.push({ stream, text }) },
    get artifactsDir(): string {
      artifacts ??= mkdtempSync(join(tmpdir(), 'rivet-artifacts-'));
      return artifacts;
    },
    baseDir: process.cwd(),
    env: {},
    clock,
    killGraceMs: 1000,
    previous: undefined,
    checkpoint: async (state) => void checkpoints.push(state),
    waiting: () => void waiting++,
    evaluate: (template, extra) => evaluateTemplate(template, { ...scope, ...extra }),
    decision: async () => unavailable('decision'),
    child: async () => unavailable('child'),
    redact: redactor(secrets),
    ...rest,
    controller,
    lines,
    checkpoints,
    waitingCalls: () => waiting,
    abort: (reason = 'cancelled') => controller.abort(reason),
    dispose: () => {
      if (artifacts !== undefined) rmSync(artifacts, { recursive: true, force: true });
    },
  };
  return ctx;
}
