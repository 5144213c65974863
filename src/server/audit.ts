/**
 * The audit log's writer: entries of the requests answered in one turn of the event loop are
 * written in one transaction (one commit, and one fsync under `synchronous: FULL`, instead of
 * one per request). Reading the log flushes first, so a caller always sees its own calls.
 */
import type { Logger } from 'pino';
import type { AuditEntry, ServerData } from '../store/server-types.ts';

export class AuditWriter {
  readonly #data: Pick<ServerData, 'appendAudit'>;
  readonly #log: Logger;
  #queue: AuditEntry[] = [];

  constructor(data: Pick<ServerData, 'appendAudit'>, log: Logger) {
    this.#data = data;
    this.#log = log;
  }

  add(entry: AuditEntry): void {
    if (this.#queue.push(entry) === 1) setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    try {
      this.#data.appendAudit(batch);
    } catch (error) {
      this.#log.error({ err: error, entries: batch }, 'cannot write audit entries');
    }
  }
}
