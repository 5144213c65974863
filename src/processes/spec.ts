/**
 * A process definition compiled once (STYLE.md habit 3): defaults applied, durations in ms, the
 * readiness pattern compiled and the command as argv, so a bad definition fails when it is
 * registered rather than at its first start. Also the pure restart decisions of the supervisor.
 */
import { dirname, resolve } from 'node:path';
import { RE2JS } from 're2js';
import { valueText } from '../kinds/shell.ts';
import { parseDuration } from '../model/duration.ts';
import type { WorkflowDocument } from '../model/index.ts';
import { parseTcpTarget, type ReadyCheck } from './readiness.ts';

export type ProcessSpec = NonNullable<WorkflowDocument['process']>;
export type RestartPolicy = NonNullable<ProcessSpec['restart']>['policy'];
export type StopSignal = NonNullable<NonNullable<ProcessSpec['stop']>['signal']>;

/** Scripts run with the POSIX shell: a process file has no `shell` field, and /bin/sh always exists. */
const SCRIPT_SHELL = '/bin/sh';
const DEFAULT_READY_TIMEOUT_MS = 30_000;
const DEFAULT_RESTART_DELAY_MS = 1_000;
const DEFAULT_STOP_GRACE_MS = 10_000;
/** Backoff between restarts grows up to this (unless `delay` alone is longer). */
export const MAX_RESTART_DELAY_MS = 30_000;
/** A run that stayed up this long counts as healthy: the backoff and `max_restarts` start over. */
export const STABLE_UPTIME_MS = 10_000;

export interface ResolvedProcess {
  readonly command: string;
  readonly args: readonly string[];
  /** The definition's own variables, as text (merged over the supervisor's base environment). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Null when the definition has no probe: the process counts as up once spawned. */
  readonly ready: ReadyCheck | null;
  readonly restart: {
    readonly policy: RestartPolicy;
    /** Restarts in a row allowed before giving up; null: no limit. */
    readonly maxRestarts: number | null;
    readonly delayMs: number;
  };
  readonly stop: { readonly signal: StopSignal; readonly graceMs: number };
}

/** Compiles a definition; throws an Error naming the field when a value cannot be used. */
export function resolveProcess(file: string, spec: ProcessSpec): ResolvedProcess {
  const [command, ...args] =
    spec.command !== undefined
      ? spec.command
      : spec.run !== undefined
        ? // `--` keeps a script that starts with '-' from being read as options.
          [SCRIPT_SHELL, '-c', '--', spec.run]
        : [];
  if (command === undefined) throw new Error('process: needs run or command');
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.env ?? {})) env[name] = valueText(value);
  return Object.freeze({
    command,
    args,
    env: Object.freeze(env),
    cwd: resolve(dirname(file), spec.cwd ?? '.'),
    ready: resolveReady(spec.ready),
    restart: Object.freeze({
      policy: spec.restart?.policy ?? 'never',
      maxRestarts: spec.restart?.max_restarts ?? null,
      delayMs: durationMs(spec.restart?.delay, 'restart.delay', DEFAULT_RESTART_DELAY_MS),
    }),
    stop: Object.freeze({
      signal: spec.stop?.signal ?? 'SIGTERM',
      graceMs: durationMs(spec.stop?.grace, 'stop.grace', DEFAULT_STOP_GRACE_MS),
    }),
  });
}

function resolveReady(ready: ProcessSpec['ready']): ReadyCheck | null {
  if (ready === undefined) return null;
  const { http, tcp, log } = ready;
  if (http === undefined && tcp === undefined && log === undefined) return null;
  if (http !== undefined) {
    let url: URL;
    try {
      url = new URL(http);
    } catch {
      throw new Error(`process.ready.http: ${JSON.stringify(http)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`process.ready.http: ${JSON.stringify(http)} must be an http:// or https:// URL`);
    }
  }
  let pattern: RE2JS | null = null;
  if (log !== undefined) {
    try {
      pattern = RE2JS.compile(log);
    } catch (err) {
      throw new Error(
        `process.ready.log: invalid regular expression ${JSON.stringify(log)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return Object.freeze({
    http: http ?? null,
    tcp: tcp === undefined ? null : parseTcpTarget(tcp),
    log: pattern,
    timeoutMs: durationMs(ready.timeout, 'ready.timeout', DEFAULT_READY_TIMEOUT_MS),
  });
}

function durationMs(value: string | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) throw new Error(`process.${field}: ${JSON.stringify(value)} is not a duration such as 30s`);
  return ms;
}

/** The wait before restart number `inRow + 1` of a series: doubling from `baseMs`, capped. */
export function restartDelay(baseMs: number, inRow: number): number {
  return Math.min(baseMs * 2 ** Math.min(inRow, 30), Math.max(baseMs, MAX_RESTART_DELAY_MS));
}

export type AfterExit =
  | { readonly action: 'restart'; readonly delayMs: number }
  | { readonly action: 'exited' }
  | { readonly action: 'failed' }
  /** The policy wanted a restart but `max_restarts` in a row were already made. */
  | { readonly action: 'gave_up' };

/** What follows the end of a run: `failed` covers a non-zero exit, a signal and a readiness timeout. */
export function afterExit(restart: ResolvedProcess['restart'], failed: boolean, inRow: number): AfterExit {
  const wanted = restart.policy === 'always' || (restart.policy === 'on_failure' && failed);
  if (!wanted) return { action: failed ? 'failed' : 'exited' };
  if (restart.maxRestarts !== null && inRow >= restart.maxRestarts) return { action: 'gave_up' };
  return { action: 'restart', delayMs: restartDelay(restart.delayMs, inRow) };
}
