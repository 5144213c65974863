/**
 * A small fake of the internal platform the examples talk to: teams and buckets, a Jira-like
 * tracker, deployments and canaries, the mesh, a Prometheus-like query API, a chat webhook, a
 * data lake and a warehouse, Koji and Bodhi. Dependency-free (node:http), all state in memory.
 *
 *   npx node examples/platform-api/server.ts             # http://127.0.0.1:8787
 *   npx node examples/platform-api/server.ts --port 0    # a free port, printed on start
 *
 * (`npx node` is the project's Node 24, which runs TypeScript; a system Node 22.18+ does too.)
 *
 * Routes that a real service would protect want `Authorization: Bearer <token>` (any non-empty
 * token). A mutating request with an `Idempotency-Key` it has seen before gets the first answer
 * again, without acting twice. Every request is recorded; `GET /_requests` lists them (tests read
 * it), `GET /healthz` answers ok.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataRoutes } from './data.ts';
import { deliveryRoutes } from './delivery.ts';
import { platformRoutes } from './platform.ts';
import { type ApiRequest, json, match, problem, type Reply, type Route } from './router.ts';

export interface RecordedRequest {
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly body: unknown;
  /** Whether a bearer token came with it (the token itself is not kept). */
  readonly bearer: boolean;
  readonly idempotency_key: string | null;
  readonly status: number;
  /** Answered from the idempotency store, without acting again. */
  readonly replayed: boolean;
}

export interface PlatformApi {
  readonly url: string;
  readonly requests: readonly RecordedRequest[];
  close(): Promise<void>;
}

export interface PlatformApiOptions {
  readonly port?: number;
  readonly host?: string;
  /** Called with one line per request. */
  readonly log?: (line: string) => void;
}

const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!/json/.test(req.headers['content-type'] ?? '') || text.trim() === '') return text;
  return JSON.parse(text) as unknown;
}

function bearerOf(req: IncomingMessage): boolean {
  return /^Bearer \S+/.test(req.headers.authorization ?? '');
}

export async function startPlatformApi(options: PlatformApiOptions = {}): Promise<PlatformApi> {
  const routes: Route[] = [...platformRoutes(), ...deliveryRoutes(), ...dataRoutes()];
  const requests: RecordedRequest[] = [];
  const replies = new Map<string, Reply>(); // "<method> <path> <idempotency key>" → first reply

  const answer = (method: string, path: string, handle: (r: Route, params: Record<string, string>) => Reply): Reply => {
    let allowed = false;
    for (const r of routes) {
      const params = match(r.pattern, path);
      if (params === undefined) continue;
      if (r.method === method) return handle(r, params);
      allowed = true;
    }
    return allowed ? problem(405, `${method} is not allowed on ${path}`) : problem(404, `no route ${method} ${path}`);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://platform.invalid');
      const method = req.method ?? 'GET';
      const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname;
      let body: unknown = '';
      let reply: Reply;
      let replayed = false;
      const key = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : null;
      try {
        body = await readBody(req);
        if (path === '/_requests' && method === 'GET') reply = json(200, { requests });
        else if (path === '/healthz') reply = json(200, { status: 'ok' });
        else {
          const stored = key === null || method === 'GET' ? undefined : replies.get(`${method} ${path} ${key}`);
          replayed = stored !== undefined;
          reply =
            stored ??
            answer(method, path, (r, params) => {
              if (r.auth && !bearerOf(req)) return problem(401, 'a bearer token is required');
              const request: ApiRequest = {
                method,
                path,
                query: url.searchParams,
                body,
                base: `http://${req.headers.host ?? 'localhost'}`,
                params,
              };
              return r.handle(request);
            });
          if (!replayed && key !== null && method !== 'GET' && reply.status < 500)
            replies.set(`${method} ${path} ${key}`, reply);
        }
      } catch (error) {
        reply = problem(400, `bad request: ${(error as Error).message}`);
      }
      if (!path.startsWith('/_') && path !== '/healthz') {
        const query = Object.fromEntries(url.searchParams);
        requests.push({
          at: new Date().toISOString(),
          method,
          path,
          query,
          body: body === '' ? null : body,
          bearer: bearerOf(req),
          idempotency_key: key,
          status: reply.status,
          replayed,
        });
        options.log?.(
          `${new Date().toISOString().slice(11, 19)} ${method} ${path} → ${reply.status}${replayed ? ' (replayed)' : ''}`,
        );
      }
      const headers: Record<string, string> = { ...(reply.headers ?? {}) };
      if (replayed) headers['idempotent-replayed'] = 'true';
      let payload = '';
      if (reply.text !== undefined) {
        payload = reply.text;
        headers['content-type'] ??= 'text/plain; charset=utf-8';
      } else if (reply.body !== undefined && reply.status !== 204) {
        payload = JSON.stringify(reply.body);
        headers['content-type'] = 'application/json';
      }
      res.writeHead(reply.status, headers).end(payload);
    })();
  });

  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 8787, options.host ?? '127.0.0.1', () => done());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

// Started as a program (not imported): parse --port/--host/--quiet and serve until a signal.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i === -1 ? undefined : args[i + 1];
  };
  const port = Number(value('--port') ?? process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(
      'usage: npx node examples/platform-api/server.ts [--port 8787] [--host 127.0.0.1] [--quiet]\n',
    );
    process.exit(2);
  }
  const quiet = args.includes('--quiet');
  const api = await startPlatformApi({
    port,
    host: value('--host') ?? '127.0.0.1',
    ...(quiet ? {} : { log: (line: string) => process.stdout.write(`${line}\n`) }),
  });
  process.stdout.write(`platform API listening on ${api.url}\n`);
  const stop = (): void => void api.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
