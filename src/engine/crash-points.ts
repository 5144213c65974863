/**
 * Named crash points at each durable boundary, for the crash tests (RELIABILITY.md 4.1, C2).
 * Off unless `RIVET_CRASH_AT=<point>[:<n>]` is set: the n-th time (default 1st) the engine
 * passes that point, the process kills itself with SIGKILL. With `RIVET_CRASH_LOG=<file>`, every
 * point passed is appended to the file, so a test can prove each hook was exercised.
 */
import { appendFileSync } from 'node:fs';

export const CRASH_POINTS = [
  'before-commit', // a batch is about to be committed
  'mid-transaction', // inside a grouped multi-write transaction
  'after-commit', // committed, before any side effect of it
  'after-side-effect', // a task did its work, before its result is recorded
  'after-record', // a result is recorded, before the next transition is acted on
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

interface Armed {
  readonly point: string;
  remaining: number;
}

function parse(spec: string | undefined): Armed | null {
  if (spec === undefined || spec === '') return null;
  const [point, n] = spec.split(':');
  return { point: point!, remaining: n === undefined ? 1 : Math.max(1, Number(n)) };
}

const armed = parse(process.env.RIVET_CRASH_AT);
const log = process.env.RIVET_CRASH_LOG;

/** True when any crash testing is on (lets hot paths skip the call). */
export const CRASH_TESTING = armed !== null || log !== undefined;

export function crashPoint(point: CrashPoint, detail = ''): void {
  if (!CRASH_TESTING) return;
  if (log !== undefined) appendFileSync(log, `${point}${detail === '' ? '' : ` ${detail}`}\n`);
  if (armed !== null && armed.point === point && --armed.remaining === 0) process.kill(process.pid, 'SIGKILL');
}
