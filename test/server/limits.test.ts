// RELIABILITY.md 4.10, the server's own limits: the request body limit (a body at the limit
// passes, one byte over is 413 RV706, and the effective limit read back by a probe equals the
// configured one) and event streams per token (past `sse_per_token` a stream is refused with 429
// RV707 while the server keeps answering, other tokens keep their own streams, and closing a
// stream frees its slot).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readSse, startTestServer, type TestServer, until } from '../helpers/server.ts';
import { startRun, waitApproval } from './api-support.ts';

const BODY_LIMIT = 4096;
const SSE_PER_TOKEN = 3;

const GATE = `name: gate
tasks:
  wait:
    approval: { message: hold the stream open }
`;

/** A JSON body of exactly `size` bytes for POST /v1/workflows/validate (padded in the source). */
function bodyOfSize(size: number): string {
  const head = '{"source":"name: x\\ntasks:\\n  a:\\n    noop: {}\\n# ';
  const tail = '"}';
  const pad = size - head.length - tail.length;
  if (pad < 0) throw new Error(`no body of ${size} bytes`);
  const body = head + 'p'.repeat(pad) + tail;
  assert.equal(Buffer.byteLength(body), size);
  return body;
}

describe('server limits (RELIABILITY 4.10)', () => {
  let s: TestServer;

  before(async () => {
    s = await startTestServer({
      workflows: { 'gate.yaml': GATE },
      settings: { body_limit: BODY_LIMIT, sse_per_token: SSE_PER_TOKEN },
    });
  });
  after(async () => {
    await s?.stop();
  });

  describe('request body', () => {
    const post = (size: number) =>
      s.api('POST', '/v1/workflows/validate', { raw: bodyOfSize(size), contentType: 'application/json' });

    it('takes a body exactly at the limit and refuses one byte more with 413 RV706', async () => {
      const at = await post(BODY_LIMIT);
      assert.equal(at.status, 200, at.text);
      assert.equal(at.body.valid, true);
      const over = await post(BODY_LIMIT + 1);
      assert.equal(over.status, 413, over.text);
      assert.equal(over.body.code, 'RV706');
      assert.equal(over.body.statusCode, 413);
      // A YAML upload counts the same bytes.
      const yaml = `name: big\ntasks:\n  a:\n    noop: {}\n# ${'p'.repeat(BODY_LIMIT)}\n`;
      const up = await s.api('PUT', '/v1/workflows/big', { raw: yaml, contentType: 'application/yaml' });
      assert.equal(up.status, 413);
      assert.equal(up.body.code, 'RV706');
    });

    it('has an effective limit, read back by a probe, equal to the configured one', async (t) => {
      // Binary search for the largest size that is not refused for its size.
      let ok = 64;
      let refused = 1024 * 1024;
      assert.notEqual((await post(ok)).status, 413);
      assert.equal((await post(refused)).status, 413);
      let probes = 0;
      while (refused - ok > 1) {
        const mid = Math.floor((ok + refused) / 2);
        if ((await post(mid)).status === 413) refused = mid;
        else ok = mid;
        probes++;
      }
      assert.equal(ok, BODY_LIMIT, `effective limit after ${probes} probes`);
      t.diagnostic(`effective body limit: ${ok} bytes (configured ${BODY_LIMIT}), found in ${probes} probes`);
    });

    it('refuses an oversized body even when its Content-Length is not given up front', async () => {
      const chunks = [bodyOfSize(BODY_LIMIT * 2)];
      const res = await fetch(`${s.url}/v1/workflows/validate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' },
        body: new ReadableStream({
          pull(controller) {
            const next = chunks.shift();
            if (next === undefined) controller.close();
            else controller.enqueue(new TextEncoder().encode(next));
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { code: string }).code, 'RV706');
    });
  });

  describe('event streams per token', () => {
    it('refuses the stream past the limit with 429 RV707 and stays responsive', async () => {
      const runId = await startRun(s.api, 'gate');
      await waitApproval(s.api, runId, 'wait');
      const url = `${s.url}/v1/runs/${runId}/events`;
      const alice = await s.user('alice', 'viewer');
      const bob = await s.user('bob', 'viewer');

      /**
       * Opens a stream; `opened` resolves with 200 once its first frame arrived (the stream is
       * counted then), or with the status it was refused with.
       */
      const open = (token: string) => {
        const stop = new AbortController();
        let settle!: (status: number) => void;
        const opened = new Promise<number>((r) => (settle = r));
        const done = readSse(url, token, () => settle(200), { signal: stop.signal });
        void done.then((r) => settle(r.status));
        return { stop, opened, done };
      };

      const streams = Array.from({ length: SSE_PER_TOKEN }, () => open(alice));
      assert.deepEqual(await Promise.all(streams.map((x) => x.opened)), [200, 200, 200]);

      const refused = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${alice}` } });
      assert.equal(refused.status, 429);
      const body = (await refused.json()) as { code: string; message: string };
      assert.equal(body.code, 'RV707');
      assert.match(body.message, /sse_per_token = 3/);
      // The logs stream counts against the same limit.
      const logs = await fetch(`${s.url}/v1/runs/${runId}/logs`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${alice}` },
      });
      assert.equal(logs.status, 429);
      await logs.text();

      // The server answers everything else meanwhile, JSON reads with the same token included.
      assert.equal((await s.api('GET', '/healthz', { token: null })).status, 200);
      assert.equal((await s.api('GET', '/readyz', { token: null })).status, 200);
      assert.equal((await s.api('GET', `/v1/runs/${runId}`, { token: alice })).status, 200);
      assert.equal((await s.api('GET', `/v1/runs/${runId}/events`, { token: alice })).status, 200);

      // Another token has its own streams.
      const other = Array.from({ length: SSE_PER_TOKEN }, () => open(bob));
      assert.deepEqual(await Promise.all(other.map((x) => x.opened)), [200, 200, 200]);
      for (const x of other) x.stop.abort();
      for (const x of other) assert.equal((await x.done).status, 200);

      // Closing one of alice's streams frees its slot (the server notices the close).
      streams[0]!.stop.abort();
      await streams[0]!.done;
      const again = await until(async () => {
        const x = open(alice);
        const status = await x.opened;
        if (status === 200) return x;
        assert.equal(status, 429);
        return undefined;
      }, 'a freed stream slot');
      const fourth = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${alice}` } });
      assert.equal(fourth.status, 429, 'the freed slot is taken again');
      await fourth.text();

      // The stream ends normally once the run ends: its slot is freed too.
      const d = await s.api('POST', `/v1/runs/${runId}/approvals/wait`, { body: { decision: 'approve' } });
      assert.equal(d.status, 200, d.text);
      assert.deepEqual(await again.done, { status: 200, ended: true });
      for (const x of streams.slice(1)) assert.deepEqual(await x.done, { status: 200, ended: true });
      const after = await readSse(url, alice, () => undefined);
      assert.deepEqual(after, { status: 200, ended: true });
    });
  });
});
