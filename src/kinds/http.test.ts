/**
 * The http kind against real HTTP servers on loopback (no fetch mocks): request building,
 * parsing, expect.status, timeouts, cancellation, redirects, size limits, polling, header
 * injection, secrets in messages and SSRF protection (with a canary server counting connections).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { z } from 'zod';
import { http, httpSpec } from '../model/kinds/http.ts';
import {
  createHttpKind,
  type HttpKind,
  httpKind,
  type HttpKindOptions,
  isInternalAddress,
  parseRetryAfter,
} from './http.ts';
import { makeTaskContext, type TestContextOptions, TestClock, type TestTaskContext } from './test-context.ts';
import { TaskFailure } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Servers and helpers

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => unknown;

interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly seen: Seen[];
  connections: number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const kinds: HttpKind[] = [];

after(async () => {
  await Promise.all(kinds.map((k) => k.close()));
  await httpKind.close();
  await Promise.all(servers.map((s) => s.close()));
});

interface ServeOptions {
  readonly host?: string;
  readonly port?: number;
  readonly tls?: { key: string; cert: string };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A real server on loopback; it records every request and counts TCP connections. */
async function serve(handler: Handler, options: ServeOptions = {}): Promise<TestServer> {
  const host = options.host ?? '127.0.0.1';
  const listener = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const seen: Seen = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: await readBody(req),
    };
    server.seen.push(seen);
    await handler(req, res, seen);
  };
  const raw: Server = options.tls === undefined ? createServer(listener) : createTlsServer(options.tls, listener);
  await new Promise<void>((resolve, reject) => {
    raw.once('error', reject);
    raw.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (raw.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  const server: TestServer = {
    url: `${options.tls === undefined ? 'http' : 'https'}://${shown}:${port}`,
    port,
    seen: [],
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        raw.closeAllConnections();
        raw.close(() => resolve());
      }),
  };
  raw.on('connection', () => server.connections++);
  servers.push(server);
  return server;
}

/** Resolves when `res` can take more data (or is closed). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(value));
}

/** A server that answers every request with what it received, as JSON. */
const echo: Handler = (_req, res, seen) => sendJson(res, 200, seen);

type SpecInput = z.input<typeof httpSpec>;

function kind(options: HttpKindOptions = {}): HttpKind {
  const k = createHttpKind(options);
  kinds.push(k);
  return k;
}

function context(options: TestContextOptions = {}): TestTaskContext {
  return makeTaskContext(options);
}

async function run(input: SpecInput, ctx: TestTaskContext = context(), k: HttpKind = kind()) {
  const { result } = await k.execute(httpSpec.parse(input), ctx);
  return result as { status: number; headers: Record<string, string>; body: unknown };
}

/** Runs and expects a TaskFailure, which it returns. */
async function fails(input: SpecInput, ctx: TestTaskContext = context(), k: HttpKind = kind()): Promise<TaskFailure> {
  try {
    await k.execute(httpSpec.parse(input), ctx);
  } catch (err) {
    assert.ok(err instanceof TaskFailure, `expected a TaskFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the task to fail');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function seenJson(result: { body: unknown }): Seen {
  return result.body as Seen;
}

// ---------------------------------------------------------------------------------------------
// The request

describe('http kind: the request', () => {
  test('exports the model definition and leaves poll.until to the kind', () => {
    assert.equal(httpKind.definition, http);
    assert.deepEqual(httpKind.lateFields, [['poll', 'until']]);
  });

  test('sends every method; only unsafe ones carry an Idempotency-Key', async () => {
    const server = await serve(echo);
    const k = kind();
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
      const ctx = context({ idempotencyKey: `run-9/task-${method}` });
      const result = await run({ method, url: `${server.url}/m` }, ctx, k);
      assert.equal(result.status, 200);
      const seen = server.seen.at(-1)!;
      assert.equal(seen.method, method);
      const unsafe = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method);
      assert.equal(seen.headers['idempotency-key'], unsafe ? `run-9/task-${method}` : undefined);
      if (method === 'HEAD') assert.equal(result.body, null);
      else assert.equal(seenJson(result).method, method);
    }
  });

  test('keeps an Idempotency-Key the user set', async () => {
    const server = await serve(echo);
    await run({ method: 'POST', url: server.url, headers: { 'Idempotency-Key': 'mine' } });
    assert.equal(server.seen[0]!.headers['idempotency-key'], 'mine');
  });

  test('appends query parameters, URL-encoded, scalars as strings', async () => {
    const server = await serve(echo);
    await run({ url: `${server.url}/p?a=1`, query: { b: 'x y&z=é', n: 3, t: true } });
    assert.equal(server.seen[0]!.url, '/p?a=1&b=x+y%26z%3D%C3%A9&n=3&t=true');
  });

  test('sends headers', async () => {
    const server = await serve(echo);
    await run({ url: server.url, headers: { 'X-Trace': 'abc', Accept: 'text/plain' } });
    assert.equal(server.seen[0]!.headers['x-trace'], 'abc');
    assert.equal(server.seen[0]!.headers.accept, 'text/plain');
  });

  test('json, form and text bodies set their Content-Type', async () => {
    const server = await serve(echo);
    await run({ method: 'POST', url: server.url, json: { a: [1, 'two'], b: null } });
    await run({ method: 'POST', url: server.url, form: { q: 'a b&c', n: 2, ok: false } });
    await run({ method: 'PUT', url: server.url, body: 'plain text' });
    await run({ method: 'POST', url: server.url, body: '<x/>', headers: { 'Content-Type': 'application/xml' } });
    const [json, form, text, xml] = server.seen;
    assert.equal(json!.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(json!.body), { a: [1, 'two'], b: null });
    assert.equal(form!.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(form!.body, 'q=a+b%26c&n=2&ok=false');
    assert.equal(text!.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(text!.body, 'plain text');
    assert.equal(xml!.headers['content-type'], 'application/xml');
    assert.equal(xml!.body, '<x/>');
  });

  test('basic and bearer auth, and userinfo in the URL, become an Authorization header', async () => {
    const server = await serve(echo);
    await run({ url: server.url, auth: { basic: { username: 'ann', password: 'p:w é' } } });
    await run({ url: server.url, auth: { bearer: 'tok-123' } });
    const ctx = context();
    await run({ url: server.url.replace('http://', 'http://bob:s%40cret@') + '/u' }, ctx);
    const [basic, bearer, userinfo] = server.seen;
    assert.equal(basic!.headers.authorization, `Basic ${Buffer.from('ann:p:w é').toString('base64')}`);
    assert.equal(bearer!.headers.authorization, 'Bearer tok-123');
    assert.equal(userinfo!.headers.authorization, `Basic ${Buffer.from('bob:s@cret').toString('base64')}`);
    assert.ok(!ctx.lines.some((l) => l.text.includes('bob') || l.text.includes('cret')));
  });

  test('logs one line per request without query or userinfo', async () => {
    const server = await serve((_req, res) => sendJson(res, 201, {}));
    const ctx = context();
    await run(
      {
        method: 'POST',
        url: `${server.url.replace('http://', 'http://u:pw@')}/items?key=zzz`,
        expect: { status: 201 },
      },
      ctx,
    );
    assert.equal(ctx.lines.length, 1);
    assert.match(ctx.lines[0]!.text, new RegExp(`^POST ${server.url}/items → 201 \\(\\d+ ms\\)$`));
    assert.equal(ctx.lines[0]!.stream, 'info');
  });

  test('rejects CR, LF or NUL in header values and bad header names before sending', async () => {
    const server = await serve(echo);
    for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\0b', 'a\rb']) {
      const failure = await fails({ url: server.url, headers: { 'X-Value': value } });
      assert.equal(failure.reason, 'error');
      assert.equal(failure.retryable, false);
      assert.match(failure.message, /X-Value/i);
    }
    const bearer = await fails({ url: server.url, auth: { bearer: 'tok\r\nX-Injected: 1' } });
    assert.equal(bearer.retryable, false);
    const name = await fails({ url: server.url, headers: { 'Bad Name': 'v' } });
    assert.equal(name.retryable, false);
    assert.equal(server.connections, 0);
  });

  test('refuses non-http schemes', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/x', 'gopher://127.0.0.1:70/_x', 'data:text/plain,hi']) {
      const failure = await fails({ url });
      assert.equal(failure.reason, 'error');
      assert.equal(failure.retryable, false);
      assert.match(failure.message, /unsupported URL scheme/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The response

describe('http kind: the response', () => {
  test('parses JSON by content type (+json too) and keeps other bodies as text', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/json') sendJson(res, 200, { ok: true, n: [1, 2] });
      else if (req.url === '/problem') {
        res.writeHead(200, { 'content-type': 'application/problem+json; charset=utf-8' });
        res.end('{"title":"x"}');
      } else if (req.url === '/empty') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('{"not":"parsed"}');
      }
    });
    assert.deepEqual((await run({ url: `${server.url}/json` })).body, { ok: true, n: [1, 2] });
    assert.deepEqual((await run({ url: `${server.url}/problem` })).body, { title: 'x' });
    assert.equal((await run({ url: `${server.url}/empty` })).body, null);
    assert.equal((await run({ url: `${server.url}/text` })).body, '{"not":"parsed"}');
  });

  test('invalid JSON fails with an error', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"broken": ');
    });
    const failure = await fails({ url: server.url });
    assert.equal(failure.reason, 'error');
    assert.match(failure.message, /^invalid JSON/);
  });

  test('headers are lower-cased, duplicates joined with ", "', async () => {
    const server = await serve((_req, res) => {
      res.setHeader('X-Dup', ['a', 'b']);
      res.setHeader('Set-Cookie', ['c=1', 'd=2']);
      res.setHeader('X-Mixed-Case', 'v');
      res.end('ok');
    });
    const result = await run({ url: server.url });
    assert.equal(result.headers['x-dup'], 'a, b');
    assert.equal(result.headers['set-cookie'], 'c=1, d=2');
    assert.equal(result.headers['x-mixed-case'], 'v');
    assert.deepEqual(Object.keys(result), ['status', 'headers', 'body']);
  });

  test('expect.status: a number, a class, a list; default 2xx', async () => {
    const server = await serve((req, res) => sendJson(res, Number(req.url!.slice(1)), {}));
    assert.equal((await run({ url: `${server.url}/204` })).status, 204);
    assert.equal((await run({ url: `${server.url}/201`, expect: { status: 201 } })).status, 201);
    assert.equal((await run({ url: `${server.url}/404`, expect: { status: '4xx' } })).status, 404);
    assert.equal((await run({ url: `${server.url}/409`, expect: { status: [201, 409] } })).status, 409);
    assert.equal((await run({ url: `${server.url}/500`, expect: { status: ['2xx', '5xx'] } })).status, 500);
    assert.equal((await fails({ url: `${server.url}/200`, expect: { status: 201 } })).status, 200);
    assert.equal((await fails({ url: `${server.url}/404` })).reason, 'http_status');
  });

  test('an unexpected status fails with the status, the result and a short redacted body snippet', async () => {
    const long = `${'x'.repeat(300)}`;
    const server = await serve((_req, res) =>
      sendJson(res, 503, { error: 'down', secret: 'engine-secret-1', pad: long }, { 'retry-after': '120' }),
    );
    const ctx = context({ secrets: ['engine-secret-1'] });
    const failure = await fails({ method: 'POST', url: `${server.url}/svc?q=1` }, ctx);
    assert.equal(failure.reason, 'http_status');
    assert.equal(failure.status, 503);
    assert.equal(failure.retryable, true);
    assert.equal(failure.retryAfterMs, 120_000);
    assert.ok(failure.message.startsWith(`HTTP 503 from POST ${server.url}/svc: {"error":"down"`));
    assert.ok(!failure.message.includes('engine-secret-1'));
    assert.ok(failure.message.includes('***'));
    const snippet = failure.message.slice(failure.message.indexOf(': ') + 2);
    assert.ok(snippet.length <= 201, `snippet of ${snippet.length} chars`);
    const result = failure.result as { status: number; body: { error: string } };
    assert.equal(result.status, 503);
    assert.equal(result.body.error, 'down');
  });

  test('Retry-After as an HTTP date is relative to the task clock', async () => {
    const clock = new TestClock({ start: Date.UTC(2026, 0, 1, 12, 0, 0) });
    const at = new Date(Date.UTC(2026, 0, 1, 12, 0, 30)).toUTCString();
    const server = await serve((_req, res) => sendJson(res, 429, {}, { 'retry-after': at }));
    const failure = await fails({ url: server.url }, context({ clock }));
    assert.equal(failure.status, 429);
    assert.equal(failure.retryAfterMs, 30_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 11:00:00 GMT', Date.UTC(2026, 0, 1, 12)), 0);
    assert.equal(parseRetryAfter('soon', 0), undefined);
    assert.equal(parseRetryAfter(undefined, 0), undefined);
  });

  test('a transport error names the host and the code', async () => {
    const port = await closedPort();
    const ctx = context();
    const failure = await fails({ url: `http://127.0.0.1:${port}/x?token=abc123456` }, ctx);
    assert.deepEqual(
      ctx.lines.map((l) => l.text.replace(/\(\d+ ms\)$/, '(n ms)')),
      [`GET http://127.0.0.1:${port}/x → error ECONNREFUSED (n ms)`],
    );
    assert.equal(failure.reason, 'error');
    assert.equal(failure.retryable, true);
    assert.match(failure.message, new RegExp(`GET http://127\\.0\\.0\\.1:${port}/x failed: .*ECONNREFUSED`));
    assert.ok(!failure.message.includes('abc123456'));
  });

  test('a connection reset is an error', async () => {
    const server = await serve((req) => void req.socket.destroy());
    const failure = await fails({ url: server.url });
    assert.equal(failure.reason, 'error');
    assert.match(failure.message, /127\.0\.0\.1/);
  });
});

// ---------------------------------------------------------------------------------------------
// Time limits and cancellation

describe('http kind: timeouts and cancellation', () => {
  /** A server that never answers; `onRequest` runs when a request arrives. */
  const silent = (onRequest: () => void = () => {}): Promise<TestServer> => serve(() => onRequest());

  test('spec.timeout fails the request with reason timeout', async () => {
    const server = await silent();
    const failure = await fails({ url: `${server.url}/slow?k=v`, timeout: '50ms' });
    assert.equal(failure.reason, 'timeout');
    assert.match(failure.message, /timed out after 50ms/);
    assert.ok(!failure.message.includes('k=v'));
  });

  test('cancelling the task aborts the request', async () => {
    const ctx = context();
    const server = await silent(() => ctx.abort('cancelled'));
    const failure = await fails({ url: server.url }, ctx);
    assert.equal(failure.reason, 'cancelled');
  });

  test('the task timing out aborts the request with reason timeout', async () => {
    const ctx = context();
    const server = await silent(() => ctx.abort('timeout'));
    const failure = await fails({ url: server.url }, ctx);
    assert.equal(failure.reason, 'timeout');
  });

  test('an abort while reading the body stops it', async () => {
    const ctx = context();
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      setImmediate(() => ctx.abort('cancelled'));
    });
    const failure = await fails({ url: server.url }, ctx);
    assert.equal(failure.reason, 'cancelled');
  });
});

// ---------------------------------------------------------------------------------------------
// Redirects

describe('http kind: redirects', () => {
  test('follows up to max_redirects, then fails', async () => {
    const server = await serve((req, res) => {
      const n = Number(req.url!.slice(1));
      if (n > 0) {
        res.writeHead(302, { location: `/${n - 1}` });
        res.end();
      } else sendJson(res, 200, { done: true });
    });
    assert.deepEqual((await run({ url: `${server.url}/5` })).body, { done: true });
    assert.deepEqual((await run({ url: `${server.url}/2`, max_redirects: 2 })).body, { done: true });
    const failure = await fails({ url: `${server.url}/6` });
    assert.equal(failure.reason, 'error');
    assert.match(failure.message, /too many redirects/);
    assert.equal(
      (await fails({ url: `${server.url}/1`, max_redirects: 0 })).message.includes('too many redirects'),
      true,
    );
  });

  test('303 turns a POST into a bodiless GET; 302 on POST too; 307 keeps the method and body', async () => {
    const server = await serve((req, res, seen) => {
      if (req.url === '/303' || req.url === '/302' || req.url === '/307') {
        res.writeHead(Number(req.url.slice(1)), { location: '/target' });
        res.end();
      } else sendJson(res, 200, seen);
    });
    for (const [code, method, body] of [
      ['303', 'GET', ''],
      ['302', 'GET', ''],
      ['307', 'POST', '{"a":1}'],
    ] as const) {
      const seen = seenJson(await run({ method: 'POST', url: `${server.url}/${code}`, json: { a: 1 } }));
      assert.equal(seen.method, method, code);
      assert.equal(seen.body, body, code);
      assert.equal(seen.headers['content-type'], method === 'GET' ? undefined : 'application/json');
    }
  });

  test('drops Authorization on a cross-origin redirect, keeps it on the same origin', async () => {
    const other = await serve(echo);
    const server = await serve((req, res, seen) => {
      if (req.url === '/away') res.writeHead(302, { location: `${other.url}/landing` }).end();
      else if (req.url === '/here') res.writeHead(301, { location: '/landing' }).end();
      else sendJson(res, 200, seen);
    });
    const away = seenJson(await run({ url: `${server.url}/away`, auth: { bearer: 'tok-x' } }));
    assert.equal(away.url, '/landing');
    assert.equal(away.headers.authorization, undefined);
    const here = seenJson(await run({ url: `${server.url}/here`, auth: { bearer: 'tok-x' } }));
    assert.equal(here.headers.authorization, 'Bearer tok-x');
  });

  test('follow_redirects: false returns the 3xx itself', async () => {
    const server = await serve((_req, res) => res.writeHead(302, { location: '/elsewhere' }).end());
    const result = await run({ url: server.url, follow_redirects: false, expect: { status: 302 } });
    assert.equal(result.status, 302);
    assert.equal(result.headers.location, '/elsewhere');
    assert.equal((await fails({ url: server.url, follow_redirects: false })).status, 302);
    assert.equal(server.seen.length, 2);
  });

  test('a redirect to a non-http scheme is refused', async () => {
    const server = await serve((_req, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end());
    const failure = await fails({ url: server.url });
    assert.match(failure.message, /unsupported URL scheme/);
  });
});

// ---------------------------------------------------------------------------------------------
// Size limits

describe('http kind: response size', () => {
  test('a declared Content-Length over max_response_bytes fails at once', async () => {
    const server = await serve((_req, res) => res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000)));
    const failure = await fails({ url: server.url, max_response_bytes: 1000 });
    assert.equal(failure.reason, 'limit');
    assert.equal(failure.retryable, false);
    assert.equal(failure.message, 'response larger than 1000 bytes');
    assert.equal((await run({ url: server.url, max_response_bytes: 5000 })).status, 200);
  });

  test("the kind's limit caps the spec's", async () => {
    const server = await serve((_req, res) => res.end('y'.repeat(3000)));
    const k = kind({ maxResponseBytes: 2000 });
    const failure = await fails({ url: server.url, max_response_bytes: 1_000_000 }, context(), k);
    assert.equal(failure.message, 'response larger than 2000 bytes');
    assert.throws(() => createHttpKind({ maxResponseBytes: 0 }), TypeError);
  });

  test('a chunked body streaming 10x the limit is cut off; memory stays below 2x the limit', async () => {
    // The collector runs every limit/8 bytes while the server streams, so the figures show what the
    // kind keeps, not garbage the collector has yet to free. A warm-up response first pays the
    // one-time costs of undici's parser and of the allocator.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const limit = 8 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'z');
    let sent = 0;
    const peak = { rss: 0, arrayBuffers: 0 };
    const sample = (): void => {
      const now = process.memoryUsage();
      peak.rss = Math.max(peak.rss, now.rss);
      peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
    };
    const server = await serve(async (req, res) => {
      const size = req.url === '/warm-up' ? limit / 2 : 10 * limit;
      let sinceGc = 0;
      sent = 0;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      while (sent < size && !res.destroyed) {
        if (!res.write(chunk)) await drained(res);
        sent += chunk.length;
        sinceGc += chunk.length;
        if (sinceGc >= limit / 8) {
          gc();
          sinceGc = 0;
        }
        sample();
      }
      res.end();
    });
    const k = kind();
    assert.equal((await run({ url: `${server.url}/warm-up` }, context(), k)).status, 200);
    gc();
    const before = process.memoryUsage();
    Object.assign(peak, { rss: before.rss, arrayBuffers: before.arrayBuffers });
    const failure = await fails({ url: `${server.url}/big`, max_response_bytes: limit }, context(), k);
    sample();
    assert.equal(failure.reason, 'limit');
    assert.equal(failure.message, `response larger than ${limit} bytes`);
    assert.ok(sent < 10 * limit, 'the server was stopped early');
    const kept = peak.arrayBuffers - before.arrayBuffers;
    assert.ok(kept < 2 * limit, `buffers grew by ${kept} bytes`);
    assert.ok(peak.rss - before.rss < 2 * limit, `RSS grew by ${peak.rss - before.rss} bytes`);
  });
});

// ---------------------------------------------------------------------------------------------
// Polling

interface OpServer extends TestServer {
  /** Answers of successive polls; the last repeats. */
  states: unknown[];
  posts: number;
  polls: number;
}

/** POST /ops → 202 + Location /ops/1; GET /ops/1 → the next of `states` (a number is an error status). */
async function opServer(states: unknown[]): Promise<OpServer> {
  const counts = { states, posts: 0, polls: 0 };
  const server = await serve((req, res) => {
    if (req.method === 'POST') {
      counts.posts++;
      res.writeHead(202, { location: '/ops/1' }).end();
      return;
    }
    const state = counts.states[Math.min(counts.polls, counts.states.length - 1)];
    counts.polls++;
    if (typeof state === 'number') sendJson(res, state, { error: state });
    else sendJson(res, 200, state);
  });
  // The server reads the counters through `counts`; the test reads them through the result.
  return Object.defineProperties(server as OpServer, {
    states: { get: () => counts.states, set: (v: unknown[]) => void (counts.states = v) },
    posts: { get: () => counts.posts },
    polls: { get: () => counts.polls },
  });
}

describe('http kind: poll', () => {
  test('follows a 202 Location until the condition holds; checkpoints first, then waits', async () => {
    const server = await opServer([{ state: 'running' }, { state: 'running' }, { state: 'done', id: 7 }]);
    const ctx = context();
    const result = await run(
      {
        method: 'POST',
        url: `${server.url}/ops`,
        auth: { bearer: 'tok-p' },
        json: { x: 1 },
        poll: { until: '${{ response.body.state == "done" }}', interval: '2s' },
      },
      ctx,
    );
    assert.deepEqual(result.body, { state: 'done', id: 7 });
    assert.equal(server.posts, 1);
    assert.equal(server.polls, 3);
    assert.deepEqual(ctx.checkpoints, [{ poll_url: `${server.url}/ops/1`, started_at: Date.UTC(2026, 0, 1) }]);
    assert.equal(ctx.waitingCalls(), 1);
    assert.deepEqual((ctx.clock as TestClock).sleeps, [2000, 2000, 2000]);
    const poll = server.seen[1]!;
    assert.equal(poll.method, 'GET');
    assert.equal(poll.body, '');
    assert.equal(poll.headers.authorization, 'Bearer tok-p');
    assert.equal(poll.headers['idempotency-key'], undefined);
    assert.equal(poll.headers['content-type'], undefined);
  });

  test('tests the initial response first, then polls the same URL', async () => {
    let n = 0;
    const server = await serve((_req, res) => sendJson(res, 200, { ready: ++n >= 2 }));
    const ctx = context();
    const result = await run({ url: `${server.url}/status?x=1`, poll: { until: '${{ response.body.ready }}' } }, ctx);
    assert.deepEqual(result.body, { ready: true });
    assert.equal(server.seen.length, 2);
    assert.equal(server.seen[1]!.url, '/status?x=1');
    assert.deepEqual((ctx.clock as TestClock).sleeps, [5000]);
  });

  test('polls on a real clock too', async () => {
    let n = 0;
    const server = await serve((_req, res) => sendJson(res, 200, { ready: ++n >= 3 }));
    const ctx = context({ clock: new TestClock({ instant: false }) });
    const result = await run({ url: server.url, poll: { until: '${{ response.body.ready }}', interval: '5ms' } }, ctx);
    assert.deepEqual(result.body, { ready: true });
    assert.equal(n, 3);
  });

  test('an initial response that already satisfies the condition does not poll', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { ready: true }));
    const ctx = context();
    await run({ url: server.url, poll: { until: '${{ response.body.ready }}' } }, ctx);
    assert.equal(server.seen.length, 1);
  });

  test('poll.url is resolved against the request URL', async () => {
    const server = await serve((req, res) => sendJson(res, 200, { at: req.url }));
    const result = await run({
      method: 'POST',
      url: `${server.url}/api/jobs`,
      expect: { status: 200 },
      poll: { url: 'jobs/status?id=3', until: '${{ response.body.at != "/api/jobs" }}' },
    });
    assert.deepEqual(result.body, { at: '/api/jobs/status?id=3' });
  });

  test('times out on the task clock', async () => {
    const server = await opServer([{ state: 'running' }]);
    const ctx = context();
    const failure = await fails(
      {
        method: 'POST',
        url: `${server.url}/ops`,
        poll: { until: '${{ response.body.state == "done" }}', interval: '10s', timeout: '1m' },
      },
      ctx,
    );
    assert.equal(failure.reason, 'timeout');
    assert.match(failure.message, /^poll did not finish within 1m/);
    assert.equal(server.polls, 6);
  });

  test('resumes from ctx.previous without sending the request again', async () => {
    let posts = 0;
    let polls = 0;
    let done = false;
    const first = context();
    const server = await serve((req, res) => {
      if (req.method === 'POST') {
        posts++;
        res.writeHead(202, { location: '/ops/1' }).end();
        return;
      }
      polls++;
      // The first execution is interrupted while it polls (the engine stops, the task is retried).
      if (!done && polls === 2) first.abort('cancelled');
      sendJson(res, 200, { state: done ? 'done' : 'running' });
    });
    const spec: SpecInput = {
      method: 'POST',
      url: `${server.url}/ops`,
      poll: { until: '${{ response.body.state == "done" }}', interval: '10s', timeout: '10m' },
    };
    const k = kind();
    const failure = await fails(spec, first, k);
    assert.equal(failure.reason, 'cancelled');
    assert.equal(posts, 1);
    assert.equal(first.checkpoints.length, 1);
    done = true;
    polls = 0;
    const clock = new TestClock({ start: Date.UTC(2026, 0, 1) + 60_000 });
    const second = context({ previous: first.checkpoints[0], clock, attempt: 2 });
    const result = await run(spec, second, k);
    assert.deepEqual(result.body, { state: 'done' });
    assert.equal(posts, 1);
    assert.equal(polls, 1);
    assert.deepEqual(second.checkpoints, []);
    assert.equal(second.waitingCalls(), 1);
  });

  test('a resumed poll keeps the saved started_at for its timeout', async () => {
    const server = await opServer([{ state: 'running' }]);
    const previous = { poll_url: `${server.url}/ops/1`, started_at: Date.UTC(2026, 0, 1) - 11 * 60_000 };
    const failure = await fails(
      { method: 'POST', url: `${server.url}/ops`, poll: { until: '${{ false }}' } },
      context({ previous }),
    );
    assert.equal(failure.reason, 'timeout');
    assert.equal(server.posts, 0);
    assert.equal(server.polls, 0);
  });

  test('5xx and transport errors while polling are retried; a 4xx fails', async () => {
    const server = await opServer([503, 500, { state: 'done' }]);
    const ctx = context();
    const spec: SpecInput = {
      method: 'POST',
      url: `${server.url}/ops`,
      poll: { until: '${{ response.body.state == "done" }}' },
    };
    assert.deepEqual((await run(spec, ctx)).body, { state: 'done' });
    assert.ok(ctx.lines.some((l) => l.text.includes('poll: HTTP 503, polling again')));
    const gone = await opServer([404]);
    const failure = await fails({ ...spec, url: `${gone.url}/ops` });
    assert.equal(failure.reason, 'http_status');
    assert.equal(failure.status, 404);
  });

  test('a poll URL that refuses connections is polled again', async () => {
    const port = await closedPort();
    let polls = 0;
    const server = await serve((req, res) => {
      if (req.method === 'POST') res.writeHead(202, { location: `http://127.0.0.1:${port}/op` }).end();
      else sendJson(res, 200, { state: 'done' });
    });
    const ctx = context();
    ctx.clock.sleep = async () => {
      polls++;
      if (polls === 3) ctx.abort('cancelled');
      await Promise.resolve();
    };
    const failure = await fails({ method: 'POST', url: server.url, poll: { until: '${{ true }}' } }, ctx);
    assert.equal(failure.reason, 'cancelled');
    assert.equal(ctx.lines.filter((l) => /ECONNREFUSED.*polling again/.test(l.text)).length, 2);
  });

  test('a cross-origin Location gets no credentials', async () => {
    const status = await serve((_req, res, seen) => sendJson(res, 200, seen));
    const server = await serve((_req, res) => res.writeHead(202, { location: `${status.url}/op` }).end());
    const result = await run({
      method: 'POST',
      url: server.url,
      auth: { bearer: 'tok-q' },
      poll: { until: '${{ true }}' },
    });
    assert.equal(seenJson(result).headers.authorization, undefined);
  });

  test('a condition that is not a boolean fails as an expression error', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { n: 1 }));
    const failure = await fails({ url: server.url, poll: { until: '${{ response.body.n }}' } });
    assert.equal(failure.reason, 'expression');
    assert.equal(failure.retryable, false);
    const broken = await fails({ url: server.url, poll: { until: '${{ response.body.missing.x }}' } });
    assert.equal(broken.reason, 'expression');
  });

  test('the initial request must pass expect.status before polling', async () => {
    const server = await serve((_req, res) => sendJson(res, 500, {}));
    const ctx = context();
    const failure = await fails({ method: 'POST', url: server.url, poll: { until: '${{ true }}' } }, ctx);
    assert.equal(failure.status, 500);
    assert.deepEqual(ctx.checkpoints, []);
  });
});

// ---------------------------------------------------------------------------------------------
// Secrets in messages

describe('http kind: secrets stay out of messages', () => {
  test('neither the query string nor a bearer token appears, even when the server echoes them', async () => {
    const token = `canary-bearer-${process.pid}-Zq9`;
    const queryValue = `canary-query-${process.pid}-Xw7`;
    const server = await serve((_req, res, seen) => sendJson(res, 500, { echoed: seen }));
    const ctx = context();
    const failure = await fails(
      {
        url: `${server.url}/a?token=${queryValue}`,
        query: { other: `${queryValue}-2` },
        auth: { bearer: token },
        headers: { 'X-Api-Key': `${token}-key` },
      },
      ctx,
    );
    assert.equal(failure.status, 500);
    for (const text of [failure.message, ...ctx.lines.map((l) => l.text)]) {
      assert.ok(!text.includes(token), text);
      assert.ok(!text.includes(queryValue), text);
      assert.ok(!text.includes('token='), text);
    }
    assert.ok(failure.message.startsWith(`HTTP 500 from GET ${server.url}/a: `));
  });

  test('basic credentials do not appear when echoed', async () => {
    const server = await serve((_req, res, seen) => sendJson(res, 400, seen.headers));
    const failure = await fails({ url: server.url, auth: { basic: { username: 'u', password: 'pa55word-canary' } } });
    const encoded = Buffer.from('u:pa55word-canary').toString('base64');
    assert.ok(!failure.message.includes(encoded));
    assert.ok(!failure.message.includes('pa55word-canary'));
  });
});

// ---------------------------------------------------------------------------------------------
// TLS

const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOL3G+RMyQrAD/CVL
3UetYpPJ+Rj6hJORn4AzuOhACEGhRANCAAQ0mwiwFK+my/9qxXxR1ayNW85Zv/7z
8lW4WzlOZnlpecG7q7DJ3ikmcessjuwZq1oMtcuKRYdnPFiwGz+D1c0X
-----END PRIVATE KEY-----
`;
// Self-signed, CN rivet-test, SAN IP:127.0.0.1 and DNS:localhost, valid until 2126.
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBnDCCAUOgAwIBAgIUUjshE3sBN3EeWm/tS3K+C7YKfnAwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKcml2ZXQtdGVzdDAgFw0yNjExMjUwMTQxMTlaGA8yMTI2MTEw
MTAxNDExOVowFTETMBEGA1UEAwwKcml2ZXQtdGVzdDBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABDSbCLAUr6bL/2rFfFHVrI1bzlm//vPyVbhbOU5meWl5wbursMne
KSZx6yyO7BmrWgy1y4pFh2c8WLAbP4PVzRejbzBtMB0GA1UdDgQWBBR7KEjYI9VQ
ps715KTqXfPO47H31zAfBgNVHSMEGDAWgBR7KEjYI9VQps715KTqXfPO47H31zAa
BgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNHADBEAiAGZpeQw5WTsPeN1tczOyhoYwMdfRCGGis58y4kw0tiJAIg
fcAQehPu3IFUsEi+hgVmPLRwHfxEe3IXQmfPGkNmzF4=
-----END CERTIFICATE-----
`;

describe('http kind: TLS', () => {
  test('an unknown CA fails; insecure_skip_verify and ca_file (relative to baseDir) work', async (t) => {
    const server = await serve(echo, { tls: { key: TEST_KEY, cert: TEST_CERT } });
    const dir = mkdtempSync(join(tmpdir(), 'rivet-http-ca-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'ca.pem'), TEST_CERT);
    const k = kind();
    const failure = await fails({ url: server.url }, context(), k);
    assert.equal(failure.reason, 'error');
    assert.equal((await run({ url: server.url, tls: { insecure_skip_verify: true } }, context(), k)).status, 200);
    assert.equal(
      (await run({ url: server.url, tls: { ca_file: 'ca.pem' } }, context({ baseDir: dir }), k)).status,
      200,
    );
    const missing = await fails({ url: server.url, tls: { ca_file: 'nope.pem' } }, context({ baseDir: dir }), k);
    assert.equal(missing.retryable, false);
    assert.match(missing.message, /tls\.ca_file/);
  });
});

// ---------------------------------------------------------------------------------------------
// SSRF protection

describe('http kind: private targets (deny_private_targets)', () => {
  test('classifies addresses', () => {
    const internal = [
      '127.0.0.1',
      '127.255.255.254',
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '100.64.0.1',
      '100.127.255.255',
      '169.254.169.254',
      '0.0.0.0',
      '0.1.2.3',
      '::1',
      '::',
      'fc00::1',
      'fdff::1',
      'fe80::1',
      'fe80::1%eth0',
      'febf::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
      '::ffff:10.0.0.1',
      '[::1]',
      'not-an-ip',
    ];
    const external = [
      '8.8.8.8',
      '172.15.255.255',
      '172.32.0.0',
      '100.63.255.255',
      '100.128.0.0',
      '192.169.0.1',
      '2001:4860:4860::8888',
      '::ffff:8.8.8.8',
      '2606:4700::1111',
    ];
    for (const a of internal) assert.equal(isInternalAddress(a), true, a);
    for (const a of external) assert.equal(isInternalAddress(a), false, a);
  });

  test('the URL parser normalises numeric hosts', () => {
    for (const host of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0x7f.0.0.1']) {
      assert.equal(new URL(`http://${host}/`).hostname, '127.0.0.1', host);
    }
    assert.equal(new URL('http://[::ffff:169.254.169.254]/').hostname, '[::ffff:a9fe:a9fe]');
  });

  /** Canary servers on 127.0.0.1 and ::1 (same port) that count connections. */
  async function canaries(): Promise<{ v4: TestServer; v6: TestServer; port: number; connections: () => number }> {
    const v4 = await serve((_req, res) => res.end('canary'));
    const v6 = await serve((_req, res) => res.end('canary'), { host: '::1', port: v4.port });
    return { v4, v6, port: v4.port, connections: () => v4.connections + v6.connections };
  }

  const stubNames: Record<string, string[]> = {
    localhost: ['127.0.0.1'],
    'loopback.example': ['127.0.0.1'],
    'metadata.google.internal': ['169.254.169.254'],
    'internal.example': ['10.1.2.3'],
    'mixed.example': ['93.184.215.14', '192.168.1.10'],
  };
  const stub = async (host: string): Promise<string[]> => stubNames[host] ?? [];

  const reachable = (port: number): string[] => [
    `http://127.0.0.1:${port}/`,
    `http://localhost:${port}/`,
    `http://loopback.example:${port}/`,
    `http://[::1]:${port}/`,
    `http://0.0.0.0:${port}/`,
    `http://2130706433:${port}/`,
    `http://0x7f000001:${port}/`,
    `http://0177.0.0.1:${port}/`,
    `http://[::ffff:127.0.0.1]:${port}/`,
    `http://[::ffff:7f00:1]:${port}/`,
  ];

  const unreachable = (port: number): string[] => [
    `http://metadata.google.internal:${port}/computeMetadata/v1/`,
    `http://169.254.169.254:${port}/latest/meta-data/`,
    `http://[::ffff:169.254.169.254]:${port}/`,
    `http://[::ffff:a9fe:a9fe]:${port}/`,
    `http://internal.example:${port}/`,
    `http://mixed.example:${port}/`,
    `http://10.0.0.1:${port}/`,
    `http://172.16.0.1:${port}/`,
    `http://172.31.255.255:${port}/`,
    `http://192.168.1.1:${port}/`,
    `http://100.64.0.1:${port}/`,
    `http://[fc00::1]:${port}/`,
    `http://[fd12:3456::1]:${port}/`,
    `http://[fe80::1]:${port}/`,
    `http://[::]:${port}/`,
  ];

  test('every private target is refused before any connection', async () => {
    const canary = await canaries();
    const k = kind({ denyPrivateTargets: true, resolve: stub });
    for (const url of [...reachable(canary.port), ...unreachable(canary.port)]) {
      const failure = await fails({ url }, context(), k);
      assert.equal(failure.reason, 'error', url);
      assert.equal(failure.retryable, false, url);
      assert.match(failure.message, /is a private address \(http deny_private_targets\)/, url);
    }
    assert.equal(canary.connections(), 0);
  });

  test('the same URLs reach the canary when the protection is off', async () => {
    const canary = await canaries();
    const k = kind({ resolve: stub });
    for (const url of reachable(canary.port)) assert.equal((await run({ url }, context(), k)).body, 'canary', url);
    assert.ok(canary.v4.connections > 0 && canary.v6.connections > 0);
  });

  test('the system resolver is checked too (localhost)', async () => {
    const canary = await canaries();
    const failure = await fails(
      { url: `http://localhost:${canary.port}/` },
      context(),
      kind({ denyPrivateTargets: true }),
    );
    assert.match(failure.message, /localhost \((127\.0\.0\.1|::1)\) is a private address/);
    assert.equal(canary.connections(), 0);
  });

  test('allowed targets keep working', async () => {
    const server = await serve((_req, res) => res.end('public'), { host: '127.0.0.2' });
    const k = kind({ denyPrivateTargets: true, allowAddresses: ['127.0.0.2/32'], resolve: async () => ['127.0.0.2'] });
    assert.equal((await run({ url: `http://public.example:${server.port}/` }, context(), k)).body, 'public');
    assert.equal((await run({ url: server.url }, context(), k)).body, 'public');
    assert.throws(() => createHttpKind({ allowAddresses: ['nope'] }), TypeError);
  });

  test('a public-looking server that redirects to loopback is blocked', async () => {
    const canary = await canaries();
    const targets = [
      `http://127.0.0.1:${canary.port}/`,
      `http://loopback.example:${canary.port}/`,
      `http://[::1]:${canary.port}/`,
    ];
    let next = 0;
    const server = await serve((_req, res) => res.writeHead(302, { location: targets[next++] }).end(), {
      host: '127.0.0.2',
    });
    const resolve = async (host: string): Promise<string[]> => (host === 'public.example' ? ['127.0.0.2'] : stub(host));
    const k = kind({ denyPrivateTargets: true, allowAddresses: ['127.0.0.2'], resolve });
    for (const _ of targets) {
      const failure = await fails(
        { url: `http://public.example:${server.port}/start`, auth: { bearer: 'b' } },
        context(),
        k,
      );
      assert.match(failure.message, /is a private address/);
    }
    assert.equal(server.seen.length, 3);
    assert.equal(canary.connections(), 0);
  });

  test('DNS rebinding cannot switch the address after the check (the connection is pinned)', async () => {
    const canary = await canaries();
    // The "public" server shares the canary's port on another loopback address.
    const publicServer = await serve((_req, res) => res.end('public'), { host: '127.0.0.2', port: canary.port });
    const answers = [['127.0.0.2'], ['127.0.0.1']];
    let calls = 0;
    const resolve = async (): Promise<string[]> => answers[Math.min(calls++, answers.length - 1)]!;
    const k = kind({ denyPrivateTargets: true, allowAddresses: ['127.0.0.2'], resolve });
    const result = await run({ url: `http://rebind.example:${canary.port}/` }, context(), k);
    assert.equal(result.body, 'public');
    assert.equal(calls, 1);
    assert.equal(publicServer.connections, 1);
    assert.equal(canary.connections(), 0);
  });

  test('a POST to a private target is refused too (the body never leaves)', async () => {
    const canary = await canaries();
    const k = kind({ denyPrivateTargets: true, resolve: stub });
    const failure = await fails(
      { method: 'POST', url: `http://loopback.example:${canary.port}/`, json: { a: 1 } },
      context(),
      k,
    );
    assert.match(failure.message, /loopback\.example \(127\.0\.0\.1\) is a private address/);
    assert.equal(canary.connections(), 0);
  });
});
