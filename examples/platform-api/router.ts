/**
 * The fake platform's plumbing: requests and replies as plain data, routes written as
 * `METHOD /path/:param/*rest`, and a small matcher. Handlers are pure functions of the request and
 * their module's in-memory state.
 */

export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Parsed JSON for JSON bodies, the text otherwise ('' when there is none). */
  readonly body: unknown;
  /** `http://host:port` as the client reached us: absolute links and Locations are built from it. */
  readonly base: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface Reply {
  readonly status: number;
  /** JSON unless `text` is set. Omitted for 204. */
  readonly body?: unknown;
  readonly text?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Route {
  readonly method: string;
  readonly pattern: string;
  /** Needs `Authorization: Bearer <anything non-empty>`. */
  readonly auth: boolean;
  readonly handle: (req: ApiRequest) => Reply;
}

export const json = (status: number, body?: unknown, headers?: Record<string, string>): Reply => ({
  status,
  ...(body === undefined ? {} : { body }),
  ...(headers === undefined ? {} : { headers }),
});

export const problem = (status: number, message: string): Reply => json(status, { error: message });

/** A route; `auth` defaults to true because most internal APIs want a token. */
export const route = (method: string, pattern: string, handle: Route['handle'], auth = true): Route => ({
  method,
  pattern,
  handle,
  auth,
});

const segments = (path: string): string[] => path.split('/').filter((s) => s !== '');

/** Parameters of `path` for `pattern`, or undefined when it does not match. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = segments(pattern);
  const got = segments(path);
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith('*')) {
      if (i >= got.length) return undefined;
      params[w.slice(1)] = got.slice(i).map(decodeURIComponent).join('/');
      return params;
    }
    const g = got[i];
    if (g === undefined) return undefined;
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(g);
    else if (w !== g) return undefined;
  }
  return got.length === want.length ? params : undefined;
}

/** The body as an object, or undefined (handlers answer 400). */
export function fields(body: unknown): Record<string, unknown> | undefined {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

/** Short, stable ids: `prefix-0001`, `prefix-0002`, ... */
export function counter(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}-${String(++n).padStart(4, '0')}`;
}
