/**
 * The CLI's connection to a Rivet server (`--server URL` or RIVET_SERVER). The API token comes
 * from RIVET_TOKEN only, never from the command line (where `ps` would show it), and is never
 * printed. Every failure becomes a RivetError that says what to do: 401 names RIVET_TOKEN, a
 * refused connection names the URL.
 */
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { RivetError, type ErrorCode } from '../errors.ts';

/** The error body of the API (src/server/errors.ts). */
export interface ApiErrorBody {
  readonly statusCode?: number;
  readonly code?: string;
  readonly message?: string;
  readonly pointer?: string;
  readonly hint?: string;
  readonly details?: readonly { readonly pointer: string; readonly message: string }[];
}

/** An error answer of the server: a RivetError (printed by main) that keeps the status and body. */
export class RemoteError extends RivetError {
  readonly status: number;
  readonly body: ApiErrorBody;

  constructor(code: ErrorCode, message: string, status: number, body: ApiErrorBody, hint?: string) {
    super(code, message, hint === undefined ? {} : { hint });
    this.status = status;
    this.body = body;
  }
}

/** The server's URL from `--server` or RIVET_SERVER; undefined in local mode. */
export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const text = (flag ?? env.RIVET_SERVER ?? '').trim();
  if (text === '') return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new RivetError('RV502', `--server ${JSON.stringify(text)} is not a URL`, {
      hint: 'give the server address, e.g. --server http://127.0.0.1:8080',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RivetError('RV502', `--server ${JSON.stringify(text)} must be an http:// or https:// URL`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new RivetError('RV502', '--server must not hold credentials', { hint: 'put the API token in RIVET_TOKEN' });
  }
  return url.href.replace(/\/+$/, '');
}

const KNOWN_CODE = /^RV\d{3}$/;

/** Why fetch failed, in words (connection refused, unknown host...). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'the connection was closed';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'no answer';
    default:
      return cause?.message ?? (error as Error).message;
  }
}

export interface RequestOptions {
  readonly body?: unknown;
  /** Aborts the request (default: 60 s; null: no limit, for calls that wait on the server). */
  readonly timeoutMs?: number | null;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

export class Client {
  readonly url: string;
  readonly #token: string | undefined;

  constructor(url: string, token: string | undefined) {
    this.url = url;
    this.#token = token === undefined || token.trim() === '' ? undefined : token.trim();
  }

  static fromEnv(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Client | undefined {
    const url = serverUrl(flag, env);
    return url === undefined ? undefined : new Client(url, env.RIVET_TOKEN);
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...extra, ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }) };
  }

  /** The error for a request that never got an answer. */
  unreachable(error: unknown): RivetError {
    return new RivetError('RV710', `cannot reach the Rivet server at ${this.url}: ${networkReason(error)}`, {
      hint: 'is `rivet server` running there? Check --server or RIVET_SERVER',
    });
  }

  /** The RivetError for an error answer; 401 names RIVET_TOKEN. */
  async errorOf(res: Response): Promise<RemoteError> {
    const text = await res.text().catch(() => '');
    let body: ApiErrorBody = {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === 'object' && parsed !== null) body = parsed as ApiErrorBody;
    } catch {
      // not JSON: a proxy's page; the status says enough
    }
    if (res.status === 401) {
      return this.#token === undefined
        ? new RemoteError('RV702', `the server at ${this.url} wants an API token`, 401, body, 'set RIVET_TOKEN')
        : new RemoteError(
            'RV702',
            `the server at ${this.url} does not accept the token in RIVET_TOKEN`,
            401,
            body,
            'the token may be expired, revoked or from another server: set RIVET_TOKEN to a valid one',
          );
    }
    const code = (typeof body.code === 'string' && KNOWN_CODE.test(body.code) ? body.code : 'RV710') as ErrorCode;
    const message = body.message ?? `the server at ${this.url} answered ${res.status} ${res.statusText}`;
    return new RemoteError(code, message, res.status, body, body.hint);
  }

  /** Sends a request; resolves with the parsed JSON of a 2xx answer, throws a RivetError otherwise. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const timeout = options.timeoutMs === undefined ? 60_000 : options.timeoutMs;
    const signals = [
      ...(timeout === null ? [] : [AbortSignal.timeout(timeout)]),
      ...(options.signal === undefined ? [] : [options.signal]),
    ];
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: this.#headers({
          accept: 'application/json',
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        }),
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') {
        throw new RivetError('RV710', `the server at ${this.url} did not answer ${method} ${path} in time`);
      }
      throw this.unreachable(error);
    }
    if (!res.ok) throw await this.errorOf(res);
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Opens an event stream (`Accept: text/event-stream`), continuing after `lastEventId`. */
  async openStream(path: string, lastEventId: string | null, signal: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        headers: this.#headers({
          accept: 'text/event-stream',
          ...(lastEventId === null ? {} : { 'last-event-id': lastEventId }),
        }),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw this.unreachable(error);
    }
    if (!res.ok || res.body === null) throw await this.errorOf(res);
    return res;
  }
}

/** Path segment encoding (run ids, names, tasks). */
export const seg = (s: string): string => encodeURIComponent(s);

/**
 * The name of a workflow or process on the server: the argument itself, or, for a path to a
 * YAML file (it has a `/` or ends with .yaml/.yml), the `name:` of that file.
 */
export function nameOf(arg: string): { readonly name: string; readonly file: string | null } {
  if (!arg.includes('/') && !/\.ya?ml$/i.test(arg)) return { name: arg, file: null };
  let text: string;
  try {
    text = readFileSync(arg, 'utf8');
  } catch (error) {
    throw new RivetError('RV501', `cannot read ${arg}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {
      hint: 'with --server, give the name of a workflow on the server, or a file whose name: is that name',
    });
  }
  let doc: unknown;
  try {
    doc = load(text);
  } catch (error) {
    throw new RivetError('RV501', `${arg} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, {
      hint: `rivet validate ${arg} shows every problem`,
    });
  }
  const name = (doc as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || name === '') {
    throw new RivetError('RV501', `${arg} has no name: to look up on the server`, {
      hint: `rivet validate ${arg} shows every problem`,
    });
  }
  return { name, file: arg };
}
