/**
 * Readiness probes of supervised processes: an HTTP GET answering 2xx, a TCP port accepting a
 * connection, an output line matching a pattern. Every probe given must pass; each one that
 * passes stays passed. Probes poll (a process gives no other signal) starting fast, since most
 * services come up within a second, and back off a little so a slow one costs little.
 */
import { connect } from 'node:net';
import type { RE2JS } from 're2js';

export interface TcpTarget {
  readonly host: string;
  readonly port: number;
}

export interface ReadyCheck {
  readonly http: string | null;
  readonly tcp: TcpTarget | null;
  /** Matched against each stdout and stderr line (before redaction, so a pattern sees what was written). */
  readonly log: RE2JS | null;
  readonly timeoutMs: number;
}

const FIRST_INTERVAL_MS = 100;
const MAX_INTERVAL_MS = 250;
/** One probe may not eat the whole readiness budget: a server that accepts and never answers. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * `8080`, `"8080"`, `"db:5432"` or `"[::1]:8080"`. A bare port means localhost, which Node tries
 * over both IPv6 and IPv4, so a server bound to either answers.
 */
export function parseTcpTarget(value: number | string): TcpTarget {
  const text = String(value).trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`process.ready.tcp: ${JSON.stringify(value)} is not a port or host:port`);
  }
  return { host: m[1] || m[2] || 'localhost', port };
}

export async function httpReady(url: string, signal: AbortSignal, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
    await res.body?.cancel().catch(() => {});
    return res.ok;
  } catch {
    return false; // refused, reset, timed out or aborted: not ready yet
  }
}

export function tcpReady(target: TcpTarget, signal: AbortSignal, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: target.host, port: target.port });
    const finish = (ok: boolean): void => {
      signal.removeEventListener('abort', abort);
      socket.destroy();
      done(ok);
    };
    const abort = (): void => finish(false);
    signal.addEventListener('abort', abort, { once: true });
    socket.setTimeout(timeoutMs, abort);
    socket.once('connect', () => finish(true));
    socket.once('error', abort);
  });
}

/** A sleep that output can cut short, so a log-line probe passes as soon as the line arrives. */
export class Waker {
  #wake: (() => void) | undefined;

  wake(): void {
    this.#wake?.();
  }

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.#wake = undefined;
        done();
      };
      const timer = setTimeout(finish, ms);
      signal.addEventListener('abort', finish, { once: true });
      this.#wake = finish;
    });
  }
}

export type ReadyOutcome = 'ready' | 'timeout' | 'aborted';

/** Polls until every probe of `check` passed, its timeout passed, or `signal` aborts (the run ended). */
export async function waitForReady(
  check: ReadyCheck,
  hooks: { readonly signal: AbortSignal; readonly logMatched: () => boolean; readonly waker: Waker },
): Promise<ReadyOutcome> {
  const { signal } = hooks;
  const deadline = performance.now() + check.timeoutMs;
  const budget = (): number => Math.max(1, Math.min(PROBE_TIMEOUT_MS, deadline - performance.now()));
  let httpOk = check.http === null;
  let tcpOk = check.tcp === null;
  for (let interval = FIRST_INTERVAL_MS; !signal.aborted; interval = Math.min(interval * 1.5, MAX_INTERVAL_MS)) {
    if (!httpOk) httpOk = await httpReady(check.http!, signal, budget());
    if (!tcpOk && !signal.aborted) tcpOk = await tcpReady(check.tcp!, signal, budget());
    if (signal.aborted) break;
    if (httpOk && tcpOk && (check.log === null || hooks.logMatched())) return 'ready';
    const left = deadline - performance.now();
    if (left <= 0) return 'timeout';
    await hooks.waker.sleep(Math.min(interval, left), signal);
  }
  return 'aborted';
}
