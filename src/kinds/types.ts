/**
 * The task-kind contract: a kind is its definition (name, spec schema, outputs, shared with the
 * validator) plus `execute(spec, ctx)`. `execute` gets the spec with its templates already
 * evaluated (except the fields the kind evaluates itself, such as `poll.until`), and a context
 * that carries everything it may touch: an AbortSignal, a logger, an artifacts folder, the
 * idempotency key, a durable checkpoint, a clock. It returns the task's result or throws a
 * TaskFailure. Kinds never see the store or the engine.
 */
import type { KindDefinition } from '../model/kinds/types.ts';

/** Why a task attempt failed. Feeds retry decisions (`retry.on`) and the task's error. */
export type FailureReason =
  | 'timeout' // the attempt ran past its `timeout` (or an HTTP request timed out)
  | 'error' // a transport or execution error: connection refused, spawn failure, crash
  | 'http_status' // an HTTP status outside `expect.status`
  | 'exit_code' // an exit code outside `expect.exit_code`
  | 'assertion' // an `assert` condition was false
  | 'expression' // a template failed to evaluate
  | 'limit' // a size limit was exceeded (response, output file, fan-out)
  | 'rejected' // an approval was rejected
  | 'cancelled' // the run or the task was cancelled
  | 'interrupted'; // the engine stopped while the attempt ran (crash, restart)

export interface TaskFailureOptions {
  /** False when retrying cannot help (a bad spec, an expression error). Default true. */
  readonly retryable?: boolean;
  /** HTTP status, for `retry.on: [5xx, 429]`. */
  readonly status?: number;
  /** Exit code of a process. */
  readonly exitCode?: number | null;
  /** A server's `Retry-After`, in milliseconds: the next attempt waits at least this long. */
  readonly retryAfterMs?: number;
  /** The result so far (an HTTP response with an unexpected status), kept on the failed task. */
  readonly result?: unknown;
  readonly cause?: unknown;
}

export class TaskFailure extends Error {
  readonly reason: FailureReason;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly exitCode: number | null | undefined;
  readonly retryAfterMs: number | undefined;
  readonly result: unknown;

  constructor(reason: FailureReason, message: string, options: TaskFailureOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TaskFailure';
    this.reason = reason;
    this.retryable = options.retryable ?? true;
    this.status = options.status;
    this.exitCode = options.exitCode;
    this.retryAfterMs = options.retryAfterMs;
    this.result = options.result;
  }
}

/** Time as the engine sees it; tests pass a fake one (src/engine/clock.ts). */
export interface Clock {
  now(): number;
  /** Resolves after `ms` (or rejects with the signal's reason when it aborts first). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type LogStream = 'stdout' | 'stderr' | 'info';

export interface TaskLogger {
  /** One line (without its newline); secrets are redacted and long lines cut by the engine. */
  line(stream: LogStream, text: string): void;
}

/** A decision on an approval, from a prompt, the CLI, the API or chat. */
export interface Decision {
  readonly decision: 'approve' | 'reject';
  readonly approver: string;
  readonly comment: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface TaskContext {
  readonly runId: string;
  readonly taskId: string;
  /** Index of the for_each item, or null. */
  readonly item: number | null;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** `<run>/<task>` or `<run>/<task>/<item>`: the same on every attempt and after a crash. */
  readonly idempotencyKey: string;
  /** Aborted on timeout (reason 'timeout') or cancellation (reason 'cancelled'). */
  readonly signal: AbortSignal;
  readonly logger: TaskLogger;
  /** An empty folder for this attempt's files; kept read-only once the task succeeds. */
  readonly artifactsDir: string;
  /** The folder of the workflow file: relative paths (`cwd`, `file`) are resolved from here. */
  readonly baseDir: string;
  /** Environment passed to child processes (the engine's allow-list, never RIVET_SECRET_*). */
  readonly env: Readonly<Record<string, string>>;
  readonly clock: Clock;
  /** Grace period between SIGTERM and SIGKILL when a process is stopped. */
  readonly killGraceMs: number;
  /**
   * What the previous attempt of this task saved with `checkpoint` (after a crash or a retry),
   * or undefined. A shell task finds the process group of an attempt that may still be alive;
   * an http poll finds the operation URL to keep polling instead of sending the request again.
   */
  readonly previous: unknown;
  /** Durably records `state` for the next attempt; resolves once written. */
  checkpoint(state: unknown): Promise<void>;
  /** Marks the task `waiting` (approvals, sleeps, polls) so it does not hold a concurrency slot. */
  waiting(): void;
  /** Evaluates a `${{ }}` template left unevaluated in the spec, with extra scope (`response`). */
  evaluate(template: string, extra: Readonly<Record<string, unknown>>): unknown;
  /** Waits for an approval decision (approval kind); rejects when the signal aborts. */
  decision(request: DecisionRequest): Promise<Decision | null>;
  /** Starts a child run of another workflow and waits for it (workflow kind). */
  child(request: ChildRequest): Promise<ChildResult>;
  /** Turns secret values inside a string into `***`. */
  redact(text: string): string;
}

export interface DecisionRequest {
  /** When the wait ends without a decision (clock ms), or null for never. */
  readonly deadline: number | null;
  readonly message?: string;
  readonly approvers?: readonly string[];
  readonly fields?: Readonly<Record<string, unknown>>;
}

export interface ChildRequest {
  readonly file?: string;
  readonly name?: string;
  readonly inputs: Readonly<Record<string, unknown>>;
}

export interface ChildResult {
  readonly runId: string;
  readonly state: 'succeeded' | 'failed' | 'cancelled';
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly error?: string;
}

/** What an attempt produced: `result` is what `outputs:` and `assert` see. */
export interface TaskResult {
  /** For http: { status, headers, body }; for shell: the $RIVET_OUTPUT values. */
  readonly result: Readonly<Record<string, unknown>>;
}

export interface Kind<Spec = unknown> {
  readonly definition: KindDefinition;
  /** Spec fields (as paths) the engine leaves as written: the kind evaluates them itself. */
  readonly lateFields?: readonly (readonly string[])[];
  execute(spec: Spec, ctx: TaskContext): Promise<TaskResult>;
  /** Releases what the kind keeps between tasks (keep-alive connections); it may be used again after. */
  close?(): Promise<void>;
}

/** The current version of the kind interface; plugins declare the one they were written for. */
export const KIND_API_VERSION = 1;
