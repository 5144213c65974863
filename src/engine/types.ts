/** Public shapes of the engine: options, run requests and results, listeners. */
import type { Decision, DecisionRequest } from '../kinds/types.ts';
import type { KindRegistry } from '../kinds/registry.ts';
import type { Workflow } from '../model/index.ts';
import type { NewEvent, RunState, Store, StoredLogLine } from '../store/types.ts';
import type { TimerClock } from './clock.ts';

/** A validated workflow version, as loaded from a file or from the store. */
export interface WorkflowSource {
  readonly workflow: Workflow;
  readonly version: string;
  /** Absolute path of the file it came from (relative paths inside resolve from its folder). */
  readonly file: string;
  readonly source: string;
}

export interface ApprovalPrompt extends DecisionRequest {
  readonly runId: string;
  readonly task: string;
  readonly item: number | null;
}

export interface EngineOptions {
  readonly store: Store;
  readonly kinds: KindRegistry;
  /** Where artifact folders live (`<home>/artifacts`). */
  readonly artifactsRoot: string;
  readonly clock?: TimerClock;
  readonly random?: () => number;
  /** Most units running at once across all runs (waiting ones do not count). Default 32. */
  readonly capacity?: number;
  /** Most units of one run running at once, so one big run cannot take every slot. Default: no limit. */
  readonly runCapacity?: number;
  /** Between SIGTERM and SIGKILL when a process is stopped. Default 10 s. */
  readonly killGraceMs?: number;
  readonly vars?: Readonly<Record<string, unknown>>;
  readonly secrets?: Readonly<Record<string, string>>;
  /** Environment visible as `env` in expressions (already allow-listed). */
  readonly envScope?: Readonly<Record<string, string>>;
  /** Environment of child processes. Default: this process's, without RIVET_SECRET_* and RIVET_TOKEN. */
  readonly childEnv?: Readonly<Record<string, string>>;
  /** Asks a person for an approval (the CLI's terminal prompt); null when it cannot. */
  readonly prompt?: (request: ApprovalPrompt, signal: AbortSignal) => Promise<Decision | null>;
  /** Loads a child workflow file (the workflow kind); default: loadWorkflow with the registry's kinds. */
  readonly loadChild?: (file: string) => Promise<WorkflowSource>;
  /** Finds a workflow by name for `workflow: { name }` tasks (the server's registry); none locally. */
  readonly loadByName?: (name: string) => WorkflowSource | undefined;
  /** How often other processes' commands (approve, cancel) are looked for. Default 250 ms. */
  readonly commandPollMs?: number;
  /** How long a failing store write is retried before the engine gives up. Default 30 s. */
  readonly storeRetryMs?: number;
}

export interface StartRequest {
  /** The run's id; default a new one. A scheduler gives a tick's own id so a tick cannot start twice. */
  readonly id?: string;
  readonly source: WorkflowSource;
  /** Inputs already checked against the workflow (resolveInputs). */
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly trigger?: string;
  readonly event?: unknown;
  /** Tasks whose cache is ignored (`--force`). */
  readonly force?: readonly string[];
  readonly parent?: { readonly runId: string; readonly task: string; readonly item: number | null };
}

export interface RunOutcome {
  readonly runId: string;
  readonly state: Extract<RunState, 'succeeded' | 'failed' | 'cancelled'>;
  readonly outputs: Readonly<Record<string, unknown>> | null;
  readonly error: string | null;
}

export interface RunHandle {
  readonly runId: string;
  readonly done: Promise<RunOutcome>;
}

/** An event once it is durable (listeners see nothing that a crash could take back). */
export type EngineEvent = NewEvent;
export type EngineLog = Omit<StoredLogLine, 'seq'>;

export interface EngineListener {
  event?(e: EngineEvent): void;
  log?(l: EngineLog): void;
}
