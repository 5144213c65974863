/**
 * Server-sent events: a hijacked response that writes `id:`/`event:`/`data:` frames, sends a
 * comment every 15 s so proxies keep it open, and counts against the caller's per-token limit.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from './context.ts';
import { ApiError } from './errors.ts';

export interface SseStream {
  send(id: number | null, event: string, data: unknown): void;
  end(): void;
  readonly closed: boolean;
  /** Called once when the client goes away or the stream ends. */
  onClose(fn: () => void): void;
}

export const wantsSse = (req: FastifyRequest): boolean => (req.headers.accept ?? '').includes('text/event-stream');

/** The cursor of a (re)connecting client: `Last-Event-ID`, else `after`, else 0. */
export function lastEventId(req: FastifyRequest, after: number | undefined): number {
  const header = req.headers['last-event-id'];
  const text = Array.isArray(header) ? header[0] : header;
  if (text !== undefined && /^\d{1,15}$/.test(text.trim())) return Number(text.trim());
  return after ?? 0;
}

export function openSse(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply): SseStream {
  const key = req.principal?.tokenId ?? 'anonymous';
  const open = ctx.streams.get(key) ?? 0;
  if (open >= ctx.config.ssePerToken) {
    throw new ApiError(
      'RV707',
      `this token has ${open} event streams open, the most allowed (sse_per_token = ${ctx.config.ssePerToken})`,
    );
  }
  if (!ctx.accepting) throw new ApiError('RV710', 'the server is shutting down');
  ctx.streams.set(key, open + 1);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(': rivet\n\n');
  const closers: (() => void)[] = [];
  let closed = false;
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
  heartbeat.unref();
  const close = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    ctx.streams.set(key, (ctx.streams.get(key) ?? 1) - 1);
    if (ctx.streams.get(key) === 0) ctx.streams.delete(key);
    for (const fn of closers) fn();
  };
  req.raw.on('close', close);
  raw.on('close', close);
  return {
    send(id, event, data) {
      if (closed) return;
      raw.write(`${id === null ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      if (closed) return;
      raw.end();
      close();
    },
    get closed() {
      return closed;
    },
    onClose(fn) {
      if (closed) fn();
      else closers.push(fn);
    },
  };
}
