/** Everything the routes reach: built once by `startServer` (or a test) and passed in. */
import type { Logger } from 'pino';
import type { Engine } from '../engine/engine.ts';
import type { TimerClock } from '../engine/clock.ts';
import type { Redactor } from '../engine/redact.ts';
import type { KindRegistry } from '../kinds/registry.ts';
import type { Supervisor } from '../processes/supervisor.ts';
import type { ServerData } from '../store/server-types.ts';
import type { Store } from '../store/types.ts';
import type { Scheduler } from '../triggers/scheduler.ts';
import type { Approvals } from './approvals.ts';
import type { AuditWriter } from './audit.ts';
import type { ServerConfig } from './config.ts';
import type { RunFeeds } from './feeds.ts';
import type { Metrics } from './metrics.ts';
import type { WorkflowRegistry } from './registry.ts';

export interface ServerContext {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly clock: TimerClock;
  readonly store: Store;
  readonly data: ServerData;
  /** Where audit entries go (batched per event-loop turn). */
  readonly audit: AuditWriter;
  readonly kinds: KindRegistry;
  readonly engine: Engine;
  readonly registry: WorkflowRegistry;
  readonly approvals: Approvals;
  readonly feeds: RunFeeds;
  readonly metrics: Metrics;
  readonly supervisor: Supervisor;
  readonly scheduler: Scheduler;
  readonly redactor: Redactor;
  /** Where artifacts live (`<data>/artifacts`). */
  readonly artifactsRoot: string;
  /** False once a stop began: new work is refused with 503. */
  accepting: boolean;
  /** True once recovery finished and the server listens. */
  ready: boolean;
  /**
   * Defines a process again with these inputs (for its next start and the restarts after it);
   * answers the input problems, with JSON pointers, when they are not valid (nothing changes then).
   */
  defineProcess(name: string, inputs: Readonly<Record<string, unknown>>): { pointer: string; message: string }[];
  /** Open event streams per token (the SSE limit). */
  readonly streams: Map<string, number>;
}
