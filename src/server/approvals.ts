/**
 * Approvals waiting for a decision through the API. The engine asks through its `prompt` hook
 * when an approval task starts waiting (again after a restart, when the task is recovered), and
 * the request stays here until a decision arrives, the deadline passes or the run is cancelled.
 */
import type { Decision } from '../kinds/types.ts';
import type { ApprovalPrompt } from '../engine/types.ts';

export interface PendingApproval {
  readonly runId: string;
  readonly task: string;
  readonly item: number | null;
  readonly message: string | null;
  readonly approvers: readonly string[] | null;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly deadline: number | null;
  readonly since: number;
}

const keyOf = (runId: string, task: string, item: number | null): string =>
  `${runId}/${item === null ? task : `${task}[${item}]`}`;

export class Approvals {
  readonly #pending = new Map<string, { info: PendingApproval; resolve: (d: Decision | null) => void }>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** The engine's `prompt` hook. */
  readonly prompt = (request: ApprovalPrompt, signal: AbortSignal): Promise<Decision | null> =>
    new Promise((resolve) => {
      const key = keyOf(request.runId, request.task, request.item);
      const info: PendingApproval = {
        runId: request.runId,
        task: request.task,
        item: request.item,
        message: request.message ?? null,
        approvers: request.approvers ?? null,
        fields: request.fields ?? {},
        deadline: request.deadline,
        since: this.#now(),
      };
      const done = (d: Decision | null): void => {
        if (this.#pending.get(key)?.resolve === done) this.#pending.delete(key);
        resolve(d);
      };
      this.#pending.set(key, { info, resolve: done });
      signal.addEventListener('abort', () => done(null), { once: true });
    });

  list(): PendingApproval[] {
    return [...this.#pending.values()].map((p) => p.info).sort((a, b) => a.since - b.since);
  }

  get(runId: string, task: string, item: number | null): PendingApproval | undefined {
    return this.#pending.get(keyOf(runId, task, item))?.info;
  }

  /** Delivers a decision; false when the approval is no longer waiting. */
  decide(runId: string, task: string, item: number | null, decision: Decision): boolean {
    const p = this.#pending.get(keyOf(runId, task, item));
    if (p === undefined) return false;
    p.resolve(decision);
    return true;
  }
}
