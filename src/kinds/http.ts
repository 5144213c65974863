/**
 * The `http` task kind: one HTTP request through undici (shared keep-alive agents), with manual
 * redirects, a streamed size limit, `expect.status`, `Retry-After`, durable polling (`poll`) that
 * resumes from a checkpoint instead of sending the request again, and optional SSRF protection
 * that checks every address it connects to and pins the connection to the address it checked.
 * Messages name `METHOD origin/path` only: never the query, userinfo or request headers.
 */
import { createHash } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import type { Agent, Dispatcher } from 'undici';

/** undici, loaded on the first request: workflows without http tasks do not pay for it at start. */
let undici: typeof import('undici') | undefined;
async function loadUndici(): Promise<typeof import('undici')> {
  undici ??= await import('undici');
  return undici;
}
import type { z } from 'zod';
import { parseDuration } from '../model/common.ts';
import { http, type httpSpec } from '../model/kinds/http.ts';
import { type Kind, type TaskContext, TaskFailure, type TaskResult } from './types.ts';

export type HttpSpec = z.output<typeof httpSpec>;
type Method = HttpSpec['method'];

export interface HttpKindOptions {
  /** Largest response body any task may read; a spec's `max_response_bytes` can only lower it. Default 10 MiB. */
  readonly maxResponseBytes?: number;
  /** Refuse loopback, private, link-local and other internal addresses (SSRF protection). Default false. */
  readonly denyPrivateTargets?: boolean;
  /** Addresses or CIDR blocks (`10.1.2.0/24`) still allowed when `denyPrivateTargets` is on. */
  readonly allowAddresses?: readonly string[];
  /** Resolves a host name to its addresses (tests stub it). Default: the system resolver. */
  readonly resolve?: (host: string) => Promise<string[]>;
}

/** The http kind plus `close()`, which ends its keep-alive connections. */
export interface HttpKind extends Kind<HttpSpec> {
  close(): Promise<void>;
}

/** What `result`, `response` and `poll.until` see. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

const MIB = 1024 * 1024;
const DEFAULT_MAX_RESPONSE_BYTES = 10 * MIB;
const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
const DEFAULT_POLL_INTERVAL_MS = 5_000;
const DEFAULT_POLL_TIMEOUT_MS = 600_000;
const DEFAULT_MAX_REDIRECTS = 5;
const SNIPPET_CHARS = 200;
const SAFE_METHODS = new Set<string>(['GET', 'HEAD', 'OPTIONS']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];
const SENSITIVE_HEADER_RE = /auth|token|key|secret|cookie|session|passw|signature|credential/i;
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// ---------------------------------------------------------------------------------------------
// SSRF: which addresses are internal

/** Loopback, private, CGNAT, link-local, "this network", multicast and reserved ranges (v4 and v6). */
function internalRanges(): BlockList {
  const list = new BlockList();
  const v4: [string, number][] = [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ];
  for (const [net, bits] of v4) list.addSubnet(net, bits, 'ipv4');
  // ::/96 holds :: and ::1 and the deprecated IPv4-compatible forms; ::ffff:0:0/96 (IPv4-mapped)
  // is checked against the IPv4 rules by BlockList itself.
  const v6: [string, number][] = [
    ['::', 96],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
  ];
  for (const [net, bits] of v6) list.addSubnet(net, bits, 'ipv6');
  return list;
}

const INTERNAL = internalRanges();

function familyOf(address: string): 'ipv4' | 'ipv6' | undefined {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/** An allow-list from `allowAddresses`; throws on an entry that is not an address or a CIDR block. */
function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const family = familyOf(address);
    const prefix = bits === undefined ? undefined : Number(bits);
    if (family === undefined || (prefix !== undefined && !Number.isInteger(prefix))) {
      throw new TypeError(`http kind: allowAddresses entry "${entry}" is not an IP address or CIDR block`);
    }
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, prefix, family);
  }
  return list;
}

/** True for an address the protection refuses (anything that is not a plain public IP). */
export function isInternalAddress(address: string, allowed?: BlockList): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = familyOf(bare);
  if (family === undefined) return true;
  if (allowed?.check(bare, family) === true) return false;
  return INTERNAL.check(bare, family);
}

/** Raised inside the connection's DNS lookup; mapped to a non-retryable TaskFailure. */
class PrivateTargetError extends Error {
  constructor(host: string, address: string) {
    const shown = host === address ? host : `${host} (${address})`;
    super(`target ${shown} is a private address (http deny_private_targets)`);
    this.name = 'PrivateTargetError';
  }
}

interface Resolved {
  readonly address: string;
  readonly family: number;
}

/** The lookup undici's sockets use: resolve, check every address, and connect to the checked ones. */
function makeLookup(resolve: (host: string) => Promise<string[]>, deny: boolean, allowed: BlockList): LookupFunction {
  const resolveChecked = async (host: string, family: number): Promise<Resolved[]> => {
    const addresses = (await resolve(host)).map((address) => ({ address, family: isIP(address) }));
    if (deny) {
      const bad = addresses.find((a) => isInternalAddress(a.address, allowed));
      if (bad !== undefined) throw new PrivateTargetError(host, bad.address);
    }
    const usable = addresses.filter((a) => a.family !== 0 && (family === 0 || a.family === family));
    if (usable.length === 0) throw Object.assign(new Error(`no address found for ${host}`), { code: 'ENOTFOUND' });
    return usable;
  };
  return (host, options, callback) => {
    resolveChecked(host, typeof options.family === 'number' ? options.family : 0).then(
      (found) => {
        if (options.all === true) callback(null, found);
        else callback(null, found[0]!.address, found[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

async function systemResolve(host: string): Promise<string[]> {
  const found = await dnsLookup(host, { all: true });
  return found.map((a) => a.address);
}

// ---------------------------------------------------------------------------------------------
// Building the request

interface Req {
  readonly method: Method;
  readonly url: URL;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

/** `METHOD origin/path`: what messages and logs show (no query, no userinfo, no fragment). */
function describe(method: string, url: URL): string {
  return `${method} ${url.origin}${url.pathname}`;
}

function badSpec(message: string): TaskFailure {
  return new TaskFailure('error', message, { retryable: false });
}

function checkScheme(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badSpec(`unsupported URL scheme "${url.protocol}" (http kind): only http and https are allowed`);
  }
}

/** The URL with `query` appended and userinfo removed (it becomes Basic auth). */
function requestUrl(spec: HttpSpec): { url: URL; userinfo: { username: string; password: string } | undefined } {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw badSpec('the url is not an absolute http(s) URL');
  }
  checkScheme(url);
  for (const [name, value] of Object.entries(spec.query ?? {})) url.searchParams.append(name, String(value));
  const userinfo =
    url.username === '' && url.password === ''
      ? undefined
      : { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
  url.username = '';
  url.password = '';
  url.hash = '';
  return { url, userinfo };
}

function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function bodyOf(spec: HttpSpec): { body: string; type: string } | undefined {
  if (spec.json !== undefined) return { body: JSON.stringify(spec.json), type: 'application/json' };
  if (spec.form !== undefined) {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(spec.form)) form.append(name, String(value));
    return { body: form.toString(), type: 'application/x-www-form-urlencoded' };
  }
  if (spec.body !== undefined) return { body: spec.body, type: 'text/plain; charset=utf-8' };
  return undefined;
}

/** Header names must be tokens; values may not hold CR, LF or NUL (header injection). */
function checkHeader(name: string, value: string): void {
  if (!HEADER_NAME_RE.test(name)) throw badSpec(`"${name}" is not a valid HTTP header name`);
  if (/[\r\n\0]/.test(value)) throw badSpec(`the value of header "${name}" contains CR, LF or NUL`);
}

function buildRequest(spec: HttpSpec, ctx: TaskContext): Req {
  const method = spec.method ?? 'GET';
  const { url, userinfo } = requestUrl(spec);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers ?? {})) headers[name.toLowerCase()] = value;
  const basic = spec.auth?.basic ?? userinfo;
  if (basic !== undefined) headers.authorization = basicAuth(basic.username, basic.password);
  if (spec.auth?.bearer !== undefined) headers.authorization = `Bearer ${spec.auth.bearer}`;
  const payload = bodyOf(spec);
  if (payload !== undefined && headers['content-type'] === undefined) headers['content-type'] = payload.type;
  if (!SAFE_METHODS.has(method) && headers['idempotency-key'] === undefined) {
    headers['idempotency-key'] = ctx.idempotencyKey;
  }
  for (const [name, value] of Object.entries(headers)) checkHeader(name, value);
  return { method, url, headers, body: payload?.body };
}

/** Values of this request that must never show in a message, even when a server echoes them. */
function requestSecrets(spec: HttpSpec, req: Req): string[] {
  const out: string[] = [];
  const add = (v: string | undefined): void => {
    if (v === undefined || v.length < 4) return;
    out.push(v, encodeURIComponent(v), new URLSearchParams({ v }).toString().slice(2), JSON.stringify(v).slice(1, -1));
  };
  add(spec.auth?.bearer);
  add(spec.auth?.basic?.password);
  for (const [name, value] of Object.entries(req.headers)) {
    if (!SENSITIVE_HEADER_RE.test(name)) continue;
    add(value);
    for (const part of value.split(/\s+/)) add(part);
  }
  add(req.url.search.slice(1));
  for (const [, value] of req.url.searchParams) add(value);
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

// ---------------------------------------------------------------------------------------------
// One exchange: request, headers, body

interface Call {
  readonly ctx: TaskContext;
  readonly dispatcher: Dispatcher;
  readonly timeoutMs: number;
  readonly timeoutText: string;
  readonly maxBytes: number;
  readonly follow: boolean;
  readonly maxRedirects: number;
  readonly deny: boolean;
  readonly allowed: BlockList;
  /** Masks the engine's secrets and this request's own credentials and query. */
  readonly scrub: (text: string) => string;
}

interface Raw {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly bytes: Buffer;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function tooLarge(max: number): TaskFailure {
  return new TaskFailure('limit', `response larger than ${max} bytes`, { retryable: false });
}

/** Reads the body chunk by chunk and stops as soon as it passes `max`: memory stays near the limit. */
async function readLimited(body: Dispatcher.ResponseData['body'], declared: string | undefined, max: number) {
  // Destroying the body below makes it emit an abort error nobody else listens to.
  body.on('error', () => {});
  if (declared !== undefined && Number(declared) > max) {
    body.destroy();
    throw tooLarge(max);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      body.destroy();
      throw tooLarge(max);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** A literal IP host is connected to without a lookup, so it is checked here. */
function checkTarget(call: Call, url: URL): void {
  checkScheme(url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (call.deny && isIP(host) !== 0 && isInternalAddress(host, call.allowed)) {
    throw badSpec(new PrivateTargetError(host, host).message);
  }
}

function isFollowed(call: Call, status: number, headers: Record<string, string>): boolean {
  return call.follow && REDIRECT_STATUSES.has(status) && headers.location !== undefined;
}

/** Sends one request and reads its response (a redirect to follow has its body dropped). */
async function exchange(call: Call, req: Req): Promise<Raw> {
  checkTarget(call, req.url);
  const timeout = AbortSignal.timeout(call.timeoutMs);
  const signal = AbortSignal.any([call.ctx.signal, timeout]);
  const started = performance.now();
  const log = (outcome: string): void =>
    call.ctx.logger.line(
      'info',
      `${describe(req.method, req.url)} → ${outcome} (${Math.round(performance.now() - started)} ms)`,
    );
  let status: number | undefined;
  try {
    const res = await (
      await loadUndici()
    ).request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal,
      dispatcher: call.dispatcher,
    });
    const headers = flattenHeaders(res.headers);
    status = res.statusCode;
    log(String(status));
    if (isFollowed(call, res.statusCode, headers)) {
      await res.body.dump();
      return { status: res.statusCode, headers, bytes: Buffer.alloc(0) };
    }
    const bytes = await readLimited(res.body, headers['content-length'], call.maxBytes);
    return { status: res.statusCode, headers, bytes };
  } catch (err) {
    const failure = toFailure(err, call, req, timeout);
    // One line per request: a failure after the status line (size limit, abort) is not logged again.
    if (status === undefined) log(`${failure.reason} ${errorCode(err) ?? ''}`.trim());
    throw failure;
  }
}

// ---------------------------------------------------------------------------------------------
// Failures

/** The failure for an aborted task signal: its own reason when it is a TaskFailure. */
function signalFailure(reason: unknown): TaskFailure {
  if (reason instanceof TaskFailure) return reason;
  const timedOut = reason === 'timeout' || (reason instanceof Error && reason.name === 'TimeoutError');
  return timedOut
    ? new TaskFailure('timeout', 'the task timed out')
    : new TaskFailure('cancelled', 'the task was cancelled', { retryable: false });
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, cause, errors } = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string') return code;
  if (Array.isArray(errors) && errors.length > 0) return errorCode(errors[0]);
  return errorCode(cause);
}

function toFailure(err: unknown, call: Call, req: Req, timeout: AbortSignal): TaskFailure {
  if (err instanceof TaskFailure) return err;
  if (call.ctx.signal.aborted) return signalFailure(call.ctx.signal.reason);
  const what = describe(req.method, req.url);
  if (timeout.aborted) return new TaskFailure('timeout', `${what} timed out after ${call.timeoutText}`);
  if (err instanceof PrivateTargetError) return badSpec(err.message);
  const code = errorCode(err) ?? (err instanceof Error ? err.name : 'unknown error');
  const detail = err instanceof Error && err.message !== '' ? `${call.scrub(err.message)} ` : '';
  return new TaskFailure('error', `${what} failed: ${detail}(${code})`, { cause: err });
}

/** `Retry-After` in ms: delay-seconds or an HTTP date (relative to the task's clock). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function bodySnippet(call: Call, raw: Raw): string {
  const text = raw.bytes.subarray(0, 4096).toString('utf8');
  const masked = call.scrub(text).replace(/\s+/g, ' ').trim();
  return masked.length > SNIPPET_CHARS ? `${masked.slice(0, SNIPPET_CHARS)}…` : masked;
}

/** A copy of a JSON-like value with every string (keys too) passed through `scrub`. */
function scrubValue(scrub: (text: string) => string, v: unknown): unknown {
  if (typeof v === 'string') return scrub(v);
  if (Array.isArray(v)) return v.map((x) => scrubValue(scrub, x));
  if (v === null || typeof v !== 'object') return v;
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, x] of Object.entries(v)) out[scrub(k)] = scrubValue(scrub, x);
  return out;
}

function statusFailure(call: Call, req: Req, raw: Raw, response: HttpResponse): TaskFailure {
  const snippet = bodySnippet(call, raw);
  const message = `HTTP ${raw.status} from ${describe(req.method, req.url)}${snippet === '' ? '' : `: ${snippet}`}`;
  return new TaskFailure('http_status', message, {
    status: raw.status,
    // Only logged; a server may echo this request's credentials (a Basic header) back in it.
    result: scrubValue(call.scrub, response),
    retryAfterMs: parseRetryAfter(raw.headers['retry-after'], call.ctx.clock.now()),
  });
}

// ---------------------------------------------------------------------------------------------
// Responses: redirects, decoding, expect.status

function isJson(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

/** JSON by content type (an empty body is null), text otherwise. `lenient` keeps bad JSON as text. */
function decode(call: Call, req: Req, raw: Raw, lenient: boolean): HttpResponse {
  const text = raw.bytes.toString('utf8');
  let body: unknown = text;
  if (isJson(raw.headers['content-type'])) {
    try {
      body = text.trim() === '' ? null : (JSON.parse(text) as unknown);
    } catch (err) {
      if (!lenient) {
        const reason = call.scrub(err instanceof Error ? err.message : String(err)).slice(0, SNIPPET_CHARS);
        throw new TaskFailure('error', `invalid JSON in the response of ${describe(req.method, req.url)}: ${reason}`);
      }
    }
  }
  return { status: raw.status, headers: raw.headers, body };
}

function statusMatches(status: number, pattern: number | string): boolean {
  return typeof pattern === 'number' ? status === pattern : pattern[0] === String(Math.floor(status / 100));
}

function expected(spec: HttpSpec, status: number): boolean {
  const want = spec.expect?.status ?? '2xx';
  return (Array.isArray(want) ? want : [want]).some((p) => statusMatches(status, p));
}

/** The request for a redirect: fetch's method rewrite, and no credentials across origins. */
function redirected(req: Req, status: number, location: string): Req {
  let url: URL;
  try {
    url = new URL(location, req.url);
  } catch {
    throw new TaskFailure('error', `${describe(req.method, req.url)} redirected to an invalid Location`);
  }
  checkScheme(url);
  url.username = '';
  url.password = '';
  const headers: Record<string, string> = { ...req.headers };
  const toGet = status === 303 ? req.method !== 'HEAD' : (status === 301 || status === 302) && req.method === 'POST';
  if (toGet) for (const name of [...BODY_HEADERS, 'idempotency-key']) delete headers[name];
  if (url.origin !== req.url.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
  return { method: toGet ? 'GET' : req.method, url, headers, body: toGet ? undefined : req.body };
}

/** Sends `req`, following redirects; returns the last response and the request that got it. */
async function send(call: Call, req: Req): Promise<{ raw: Raw; req: Req }> {
  let current = req;
  for (let hops = 0; ; hops++) {
    const raw = await exchange(call, current);
    if (!isFollowed(call, raw.status, raw.headers)) return { raw, req: current };
    if (hops >= call.maxRedirects) {
      throw badSpec(`too many redirects (more than ${call.maxRedirects}) from ${describe(req.method, req.url)}`);
    }
    current = redirected(current, raw.status, raw.headers.location!);
  }
}

/** Sends the request and checks `expect.status`. */
async function sendChecked(call: Call, spec: HttpSpec, req: Req): Promise<{ response: HttpResponse; req: Req }> {
  const { raw, req: last } = await send(call, req);
  if (!expected(spec, raw.status)) throw statusFailure(call, last, raw, decode(call, last, raw, true));
  return { response: decode(call, last, raw, false), req: last };
}

// ---------------------------------------------------------------------------------------------
// Polling

interface PollState {
  readonly poll_url: string;
  readonly started_at: number;
}

function savedPoll(previous: unknown): PollState | undefined {
  if (typeof previous !== 'object' || previous === null) return undefined;
  const { poll_url, started_at } = previous as Record<string, unknown>;
  return typeof poll_url === 'string' && typeof started_at === 'number' ? { poll_url, started_at } : undefined;
}

/** Where to poll: a 202's Location, else `poll.url`, else the request's own URL. */
function pollUrl(spec: HttpSpec, req: Req, last: { response: HttpResponse; req: Req }): URL {
  const location = last.response.headers.location;
  if (last.response.status === 202 && location !== undefined) return new URL(location, last.req.url);
  return spec.poll?.url === undefined ? new URL(req.url) : new URL(spec.poll.url, req.url);
}

/** A bodiless GET with the request's headers; credentials only go to the same origin or `poll.url`. */
function pollRequest(spec: HttpSpec, req: Req, target: string): Req {
  const url = new URL(target);
  checkScheme(url);
  const headers: Record<string, string> = { ...req.headers };
  for (const name of [...BODY_HEADERS, 'idempotency-key']) delete headers[name];
  const chosen = spec.poll?.url === undefined ? undefined : new URL(spec.poll.url, req.url).href;
  if (url.origin !== req.url.origin && url.href !== chosen) for (const name of CREDENTIAL_HEADERS) delete headers[name];
  return { method: 'GET', url, headers, body: undefined };
}

function untilHolds(ctx: TaskContext, until: string, response: HttpResponse): boolean {
  let value: unknown;
  try {
    value = ctx.evaluate(until, { response });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new TaskFailure('expression', `poll.until failed: ${message}`, { retryable: false, cause: err });
  }
  if (typeof value !== 'boolean') {
    const got = JSON.stringify(value) ?? 'undefined';
    throw new TaskFailure('expression', `poll.until must be true or false, got ${got}`, { retryable: false });
  }
  return value;
}

/** One poll: a 5xx, a 429 or a transport error is logged and polled again (undefined). */
async function pollOnce(call: Call, spec: HttpSpec, req: Req): Promise<HttpResponse | undefined> {
  try {
    const { raw, req: last } = await send(call, req);
    if (raw.status >= 500 || raw.status === 429) {
      call.ctx.logger.line('info', `poll: HTTP ${raw.status}, polling again`);
      return undefined;
    }
    if (raw.status >= 300 && !expected(spec, raw.status)) {
      throw statusFailure(call, last, raw, decode(call, last, raw, true));
    }
    return decode(call, last, raw, false);
  } catch (err) {
    const transient =
      err instanceof TaskFailure && err.retryable && (err.reason === 'error' || err.reason === 'timeout');
    if (!transient || call.ctx.signal.aborted) throw err;
    call.ctx.logger.line('info', `poll: ${err.message}; polling again`);
    return undefined;
  }
}

async function pollLoop(call: Call, spec: HttpSpec, req: Req, state: PollState, first: HttpResponse | undefined) {
  const poll = spec.poll!;
  const interval = durationMs(poll.interval, DEFAULT_POLL_INTERVAL_MS);
  const limit = durationMs(poll.timeout, DEFAULT_POLL_TIMEOUT_MS);
  const target = pollRequest(spec, req, state.poll_url);
  call.ctx.waiting();
  let last = first;
  for (;;) {
    if (last !== undefined && last.status !== 202 && untilHolds(call.ctx, poll.until, last)) return last;
    if (call.ctx.clock.now() - state.started_at >= limit) {
      throw new TaskFailure(
        'timeout',
        `poll did not finish within ${poll.timeout ?? '10m'} (${describe('GET', target.url)})`,
      );
    }
    try {
      await call.ctx.clock.sleep(interval, call.ctx.signal);
    } catch (err) {
      throw call.ctx.signal.aborted ? signalFailure(call.ctx.signal.reason) : err;
    }
    last = await pollOnce(call, spec, target);
  }
}

// ---------------------------------------------------------------------------------------------
// The kind

function durationMs(value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : (parseDuration(value) ?? fallback);
}

function masker(ctx: TaskContext, secrets: readonly string[]): (text: string) => string {
  return (text) => ctx.redact(secrets.reduce((out, s) => out.replaceAll(s, '***'), text));
}

async function caOf(spec: HttpSpec, ctx: TaskContext): Promise<string | undefined> {
  const file = spec.tls?.ca_file;
  if (file === undefined) return undefined;
  try {
    return await readFile(resolvePath(ctx.baseDir, file), 'utf8');
  } catch (err) {
    const code = errorCode(err) ?? 'unreadable';
    throw badSpec(`cannot read tls.ca_file "${file}" (${code})`);
  }
}

/** Keep-alive agents, one per TLS option set (certificate checks on or off, CA contents). */
function agentPool(lookup: LookupFunction | undefined): {
  get(insecure: boolean, ca: string | undefined): Agent;
  close(): Promise<void>;
} {
  const agents = new Map<string, Agent>();
  return {
    get(insecure, ca) {
      const key = `${insecure}:${ca === undefined ? '' : createHash('sha256').update(ca).digest('hex')}`;
      let agent = agents.get(key);
      if (agent === undefined) {
        const connect = {
          rejectUnauthorized: !insecure,
          ...(ca === undefined ? {} : { ca }),
          ...(lookup === undefined ? {} : { lookup }),
        };
        // Time limits come from the task (spec.timeout and its signal), not from undici.
        agent = new undici!.Agent({ connect, headersTimeout: 0, bodyTimeout: 0 });
        agents.set(key, agent);
      }
      return agent;
    },
    async close() {
      const all = [...agents.values()];
      agents.clear();
      await Promise.all(all.map((a) => a.close()));
    },
  };
}

/** Builds the http kind with its own agents (one per TLS option set) and limits. */
export function createHttpKind(options: HttpKindOptions = {}): HttpKind {
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new TypeError(`http kind: maxResponseBytes must be a positive integer, got ${maxBytes}`);
  }
  const deny = options.denyPrivateTargets ?? false;
  const allowed = allowList(options.allowAddresses ?? []);
  const lookup =
    deny || options.resolve !== undefined ? makeLookup(options.resolve ?? systemResolve, deny, allowed) : undefined;
  const agents = agentPool(lookup);

  const makeCall = async (spec: HttpSpec, ctx: TaskContext, req: Req): Promise<Call> => {
    await loadUndici();
    return {
      ctx,
      dispatcher: agents.get(spec.tls?.insecure_skip_verify === true, await caOf(spec, ctx)),
      timeoutMs: durationMs(spec.timeout, DEFAULT_REQUEST_TIMEOUT_MS),
      timeoutText: spec.timeout ?? '5m',
      maxBytes: Math.min(maxBytes, spec.max_response_bytes ?? maxBytes),
      follow: spec.follow_redirects ?? true,
      maxRedirects: spec.max_redirects ?? DEFAULT_MAX_REDIRECTS,
      deny,
      allowed,
      scrub: masker(ctx, requestSecrets(spec, req)),
    };
  };

  return {
    definition: http,
    lateFields: [['poll', 'until']],
    async execute(spec, ctx): Promise<TaskResult> {
      if (ctx.signal.aborted) throw signalFailure(ctx.signal.reason);
      const req = buildRequest(spec, ctx);
      const call = await makeCall(spec, ctx, req);
      const saved = spec.poll === undefined ? undefined : savedPoll(ctx.previous);
      if (saved !== undefined) return { result: { ...(await pollLoop(call, spec, req, saved, undefined)) } };
      const first = await sendChecked(call, spec, req);
      if (spec.poll === undefined) return { result: { ...first.response } };
      const state: PollState = { poll_url: pollUrl(spec, req, first).href, started_at: ctx.clock.now() };
      await ctx.checkpoint(state);
      const initial = first.response.status === 202 ? undefined : first.response;
      return { result: { ...(await pollLoop(call, spec, req, state, initial)) } };
    },
    close: () => agents.close(),
  };
}

/** The built-in http kind: default limits, no private-target denial. */
export const httpKind: HttpKind = createHttpKind();
