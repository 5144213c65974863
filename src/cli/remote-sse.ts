/**
 * Server-sent events for the CLI: a reader of `text/event-stream` frames (`id:`, `event:`,
 * `data:`; comments skipped) and a follower that reconnects with `Last-Event-ID` when the
 * connection drops (a server restart), so every frame is seen once, in order.
 */
import { RivetError } from '../errors.ts';
import type { Client } from './remote-client.ts';
import { RemoteError } from './remote-client.ts';

export interface SseFrame {
  readonly id: string | null;
  readonly event: string;
  readonly data: string;
}

/** The frames of an event-stream body, as they arrive. Lines may end with LF, CRLF or CR. */
export async function* sseFrames(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseFrame> {
  const decoder = new TextDecoder();
  let buffer = '';
  let id: string | null = null;
  let event = '';
  let data: string[] = [];
  let sawCr = false;
  const line = (text: string): SseFrame | undefined => {
    if (text === '') {
      const frame =
        data.length === 0 ? undefined : { id, event: event === '' ? 'message' : event, data: data.join('\n') };
      id = null;
      event = '';
      data = [];
      return frame;
    }
    if (text.startsWith(':')) return undefined;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    return undefined;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      // A CRLF split across two chunks: the LF ends nothing.
      if (c === '\n' && sawCr && i === start) {
        sawCr = false;
        start = i + 1;
        continue;
      }
      const frame = line(buffer.slice(start, i));
      if (c === '\r' && buffer[i + 1] === '\n') i++;
      sawCr = c === '\r' && i === buffer.length - 1;
      start = i + 1;
      if (frame !== undefined) yield frame;
    }
    buffer = buffer.slice(start);
  }
}

export interface FollowOptions {
  readonly client: Client;
  readonly path: string;
  /** The id of the last frame already seen (sent as `Last-Event-ID`), or null for the start. */
  readonly lastEventId?: string | null;
  readonly onFrame: (frame: SseFrame) => void;
  readonly signal: AbortSignal;
  /** Connection attempts in a row before giving up (default 30, about a minute). */
  readonly attempts?: number;
  /** The connection dropped (called once per outage) / is back. */
  readonly onDown?: (reason: string) => void;
  readonly onUp?: () => void;
}

/** Statuses worth retrying: the server is starting or stopping, or has too many streams open. */
const RETRYABLE = new Set([429, 502, 503, 504]);

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * Follows a stream until its `end` frame (resolves true) or until `signal` aborts (false).
 * Throws a RivetError for an answer that retrying cannot change (401, 403, 404), or once
 * `attempts` connections in a row failed.
 */
/** `onDown`/`onUp` for a follower that says when the connection is lost and when it is back. */
export function outageNotes(note: (text: string) => void, url: string): Pick<FollowOptions, 'onDown' | 'onUp'> {
  let outage = false;
  return {
    onDown: () => {
      outage = true;
      note(`lost the connection to ${url}; reconnecting`);
    },
    onUp: () => {
      if (outage) note(`reconnected to ${url}`);
      outage = false;
    },
  };
}

export async function followSse(options: FollowOptions): Promise<boolean> {
  const { client, path, signal } = options;
  const attempts = options.attempts ?? 30;
  let lastEventId = options.lastEventId ?? null;
  let failures = 0;
  let down = false;
  for (;;) {
    if (signal.aborted) return false;
    let reason: string;
    try {
      const res = await client.openStream(path, lastEventId, signal);
      failures = 0;
      if (down) {
        down = false;
        options.onUp?.();
      }
      for await (const frame of sseFrames(res.body as unknown as AsyncIterable<Uint8Array>)) {
        if (frame.id !== null) lastEventId = frame.id;
        options.onFrame(frame);
        if (frame.event === 'end') return true;
      }
      reason = 'the server closed the stream';
    } catch (error) {
      if (signal.aborted) return false;
      if (error instanceof RemoteError && !RETRYABLE.has(error.status)) throw error;
      reason = error instanceof RivetError ? error.message : `the connection was lost (${(error as Error).message})`;
    }
    failures++;
    if (failures >= attempts) {
      throw new RivetError('RV710', `lost the connection to the server at ${client.url}: ${reason}`, {
        hint: `gave up after ${attempts} attempts to reconnect`,
      });
    }
    if (!down) {
      down = true;
      options.onDown?.(reason);
    }
    await sleep(Math.min(250 * 2 ** (failures - 1), 2_000), signal);
  }
}
