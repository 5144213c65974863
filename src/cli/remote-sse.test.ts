// The event-stream reader: frames split anywhere across chunks, LF/CRLF/CR line ends, comments,
// multi-line data, and frames without data (not dispatched).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SseFrame, sseFrames } from './remote-sse.ts';

async function frames(chunks: readonly string[]): Promise<SseFrame[]> {
  const encoder = new TextEncoder();
  async function* body(): AsyncGenerator<Uint8Array> {
    for (const c of chunks) yield encoder.encode(c);
  }
  const out: SseFrame[] = [];
  for await (const f of sseFrames(body())) out.push(f);
  return out;
}

const STREAM =
  ': rivet\n\nid: 1\nevent: run.created\ndata: {"a":1}\n\n: keep-alive\n\nid: 2\nevent: log\ndata: line one\ndata: line two\n\n' +
  'event: end\ndata: {"id":"x"}\n\n';

const EXPECTED: SseFrame[] = [
  { id: '1', event: 'run.created', data: '{"a":1}' },
  { id: '2', event: 'log', data: 'line one\nline two' },
  { id: null, event: 'end', data: '{"id":"x"}' },
];

test('reads frames in one chunk', async () => {
  assert.deepEqual(await frames([STREAM]), EXPECTED);
});

test('reads frames split at every position, and byte by byte', async () => {
  for (let cut = 1; cut < STREAM.length; cut++) {
    assert.deepEqual(await frames([STREAM.slice(0, cut), STREAM.slice(cut)]), EXPECTED, `cut at ${cut}`);
  }
  assert.deepEqual(await frames([...STREAM]), EXPECTED);
});

test('CRLF and CR line ends, even split between chunks', async () => {
  const crlf = STREAM.replaceAll('\n', '\r\n');
  for (let cut = 1; cut < crlf.length; cut++) {
    assert.deepEqual(await frames([crlf.slice(0, cut), crlf.slice(cut)]), EXPECTED, `cut at ${cut}`);
  }
  assert.deepEqual(await frames([STREAM.replaceAll('\n', '\r')]), EXPECTED);
});

test('no space after the colon, unknown fields, a frame without data, an unterminated last frame', async () => {
  assert.deepEqual(await frames(['id:7\nevent:x\nretry: 10\ndata:v\n\nid: 8\n\nevent: y\ndata: cut']), [
    { id: '7', event: 'x', data: 'v' },
  ]);
  assert.deepEqual(await frames(['data: plain\n\n']), [{ id: null, event: 'message', data: 'plain' }]);
});

test('multi-byte characters split across chunks', async () => {
  const bytes = new TextEncoder().encode('data: ✓ é\n\n');
  async function* body(): AsyncGenerator<Uint8Array> {
    for (const b of bytes) yield Uint8Array.of(b);
  }
  const out: SseFrame[] = [];
  for await (const f of sseFrames(body())) out.push(f);
  assert.deepEqual(out, [{ id: null, event: 'message', data: '✓ é' }]);
});
