/** Turning SQLite rows into the Store's records. */
import type { CacheEntry, Command, Owner, RunRecord, RunState, StoredEvent, StoredLogLine } from '../types.ts';

export type Row = Record<string, unknown>;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function parse<T>(v: unknown, fallback: T): T {
  if (v === null || v === undefined) return fallback;
  return JSON.parse(String(v)) as T;
}

export function rowToRun(row: Row): RunRecord {
  return {
    id: String(row.id),
    workflow: String(row.workflow),
    version: String(row.version),
    state: String(row.state) as RunState,
    trigger: String(row.trigger),
    inputs: parse(row.inputs, {}),
    parentRun: str(row.parent_run),
    parentTask: str(row.parent_task),
    concurrencyKey: str(row.concurrency_key),
    createdAt: Number(row.created_at),
    startedAt: num(row.started_at),
    finishedAt: num(row.finished_at),
    outputs: parse(row.outputs, null),
    error: str(row.error),
    owner: parse<Owner | null>(row.owner, null),
    epoch: Number(row.epoch),
    heartbeatAt: num(row.heartbeat_at),
  };
}

export function rowToEvent(row: Row): StoredEvent {
  return {
    seq: Number(row.seq),
    runId: String(row.run_id),
    type: String(row.type),
    task: str(row.task),
    item: num(row.item),
    attempt: num(row.attempt),
    at: Number(row.at),
    data: parse(row.data, null),
  };
}

export function rowToLog(row: Row): StoredLogLine {
  return {
    seq: Number(row.seq),
    runId: String(row.run_id),
    task: String(row.task),
    item: num(row.item),
    attempt: Number(row.attempt),
    stream: String(row.stream) as StoredLogLine['stream'],
    at: Number(row.at),
    line: String(row.line),
  };
}

export function rowToCache(row: Row): CacheEntry {
  return {
    key: String(row.key),
    runId: String(row.run_id),
    task: String(row.task),
    item: num(row.item),
    outputs: parse(row.outputs, null),
    artifacts: parse(row.artifacts, {}),
    createdAt: Number(row.created_at),
    expiresAt: num(row.expires_at),
  };
}

export function rowToCommand(row: Row): Command {
  return {
    id: Number(row.id),
    runId: String(row.run_id),
    type: String(row.type) as Command['type'],
    task: str(row.task),
    item: num(row.item),
    data: parse(row.data, {}),
    createdAt: Number(row.created_at),
  };
}
