// Runs through the HTTP API: starting with inputs (RV601 with one pointer per bad input), listing
// with filters and cursor pages, cancel, resume (also `from`), events as JSON and as SSE (a
// reconnect with Last-Event-ID loses and repeats nothing), logs as JSON pages and live SSE,
// outputs, artifacts (and path traversal attempts), and approvals (list, approve with fields,
// reject, deciding what does not wait).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSse, type SseFrame, startTestServer, type TestServer, until } from '../helpers/server.ts';
import { rawGet, startRun, waitApproval, waitRun, type Json } from './api-support.ts';

const WORKFLOWS: Record<string, string> = {
  'inp.yaml': `name: inp
inputs:
  team:   { type: string, required: true }
  bucket: { type: string, pattern: "^[a-z0-9-]{3,63}$" }
  size:   { type: integer, default: 10, minimum: 1, maximum: 500 }
  tier:   { type: string, enum: [standard, archive], default: standard }
  public: { type: boolean, default: false }
tasks:
  t:
    noop: {}
    outputs:
      where: \${{ inputs.team + "/" + inputs.tier }}
      size: \${{ inputs.size }}
outputs:
  where: \${{ tasks.t.outputs.where }}
  size: \${{ tasks.t.outputs.size }}
`,
  'quick.yaml': 'name: quick\ntasks:\n  a:\n    noop: {}\n',
  'fail.yaml': 'name: fail\ntasks:\n  a:\n    shell: { run: "exit 3" }\n',
  'sched.yaml': `name: sched
tasks:
  a:
    noop: {}
on:
  schedule: { cron: "0 0 1 1 *" }
`,
  'long.yaml': `name: long
tasks:
  nap:
    shell:
      run: |
        echo started
        sleep 60
`,
  'flaky.yaml': `name: flaky
inputs:
  marker: { type: string, required: true }
tasks:
  a:
    shell:
      run: |
        if [ -f "$M" ]; then echo second try; else touch "$M"; echo first try; exit 1; fi
      env: { M: "\${{ inputs.marker }}" }
  b:
    needs: [a]
    shell: { run: echo b ran }
`,
  'stepped.yaml': `name: stepped
tasks:
  first:
    shell: { run: "echo one" }
  gate:
    needs: [first]
    approval: { message: continue? }
  second:
    needs: [gate]
    shell:
      run: |
        echo two
        echo three >&2
        echo four
  third:
    needs: [second]
    noop: {}
`,
  'busy.yaml': `name: busy
tasks:
  fan:
    for_each: \${{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }}
    concurrency: 3
    shell: { run: "echo item; sleep 0.05" }
  last:
    needs: [fan]
    noop: {}
`,
  'art.yaml': `name: art
tasks:
  w:
    shell:
      run: |
        mkdir -p "$RIVET_ARTIFACTS/sub"
        printf 'data\\n' > "$RIVET_ARTIFACTS/sub/f.txt"
        printf 'top' > "$RIVET_ARTIFACTS/top.txt"
        ln -s /etc/passwd "$RIVET_ARTIFACTS/link"
`,
  'appr.yaml': `name: appr
tasks:
  ok:
    approval:
      message: ship it?
      approvers: [ops]
      fields:
        reason: { type: string, default: none }
  ship:
    needs: [ok]
    if: \${{ tasks.ok.outputs.decision == "approve" }}
    shell:
      run: echo "$D|$C|$R|$A"
      env:
        D: \${{ tasks.ok.outputs.decision }}
        C: \${{ tasks.ok.outputs.comment }}
        R: \${{ tasks.ok.outputs.fields.reason }}
        A: \${{ tasks.ok.outputs.approver }}
  rollback:
    needs: [ok]
    if: \${{ tasks.ok.outputs.decision == "reject" }}
    noop: {}
`,
};

const ids = (frames: readonly SseFrame[]): number[] => frames.filter((f) => f.id !== null).map((f) => Number(f.id));

describe('runs through the API', () => {
  let s: TestServer;

  before(async () => {
    s = await startTestServer({ workflows: WORKFLOWS });
  });
  after(async () => {
    await s?.stop();
  });

  describe('starting with inputs', () => {
    it('applies defaults and keeps the given values', async () => {
      const r = await s.api('POST', '/v1/runs', { body: { workflow: 'inp', inputs: { team: 'data', size: 42 } } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.headers.get('location'), `/v1/runs/${r.body.id}`);
      assert.equal(r.body.trigger, 'api');
      assert.deepEqual(r.body.inputs, { team: 'data', size: 42, tier: 'standard', public: false });
      const run = await waitRun(s.api, r.body.id);
      assert.equal(run.state, 'succeeded');
      assert.deepEqual(run.outputs, { where: 'data/standard', size: 42 });
    });

    it('lists each bad input with its pointer (400 RV601)', async () => {
      const r = await s.api('POST', '/v1/runs', {
        body: { workflow: 'inp', inputs: { colour: 'red', bucket: 'NO', size: 'big', tier: 'gold', public: 'yes' } },
      });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.code, 'RV601');
      assert.equal(r.body.in, 'body');
      const byPointer = new Map((r.body.details as Json[]).map((d) => [d.pointer, d.message as string]));
      assert.deepEqual([...byPointer.keys()].sort(), [
        '/inputs/bucket',
        '/inputs/colour',
        '/inputs/public',
        '/inputs/size',
        '/inputs/team',
        '/inputs/tier',
      ]);
      assert.match(byPointer.get('/inputs/colour')!, /unknown input/);
      assert.match(byPointer.get('/inputs/team')!, /required/);
      assert.match(byPointer.get('/inputs/bucket')!, /pattern/);
      assert.match(byPointer.get('/inputs/size')!, /integer/);
      assert.match(byPointer.get('/inputs/tier')!, /one of/);
      assert.match(byPointer.get('/inputs/public')!, /boolean/);
      assert.ok(byPointer.has(r.body.pointer));

      const range = await s.api('POST', '/v1/runs', { body: { workflow: 'inp', inputs: { team: 'x', size: 501 } } });
      assert.equal(range.status, 400);
      assert.deepEqual(
        (range.body.details as Json[]).map((d) => d.pointer),
        ['/inputs/size'],
      );
    });

    it('refuses to force an unknown task', async () => {
      const r = await s.api('POST', '/v1/runs', { body: { workflow: 'quick', force: ['zz'] } });
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'RV705');
      assert.equal(r.body.pointer, '/force');
    });
  });

  describe('listing', () => {
    const quick: string[] = [];
    let failed: string;
    let scheduled: string;

    before(async () => {
      for (let i = 0; i < 25; i++) quick.push(await startRun(s.api, 'quick'));
      failed = await startRun(s.api, 'fail');
      const t = await s.api('POST', `/v1/schedules/${encodeURIComponent('sched#0')}/trigger`);
      assert.equal(t.status, 202, t.text);
      scheduled = t.body.runId;
      for (const id of [...quick, failed, scheduled]) await waitRun(s.api, id);
    });

    it('pages through 25 runs with limit 7: each id once, newest first', async () => {
      const seen: Json[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q: string = `/v1/runs?workflow=quick&limit=7${cursor === null ? '' : `&cursor=${cursor}`}`;
        const r = await s.api('GET', q);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.items.length <= 7);
        seen.push(...r.body.items);
        cursor = r.body.next;
        pages++;
      } while (cursor !== null && pages < 10);
      assert.equal(pages, 4);
      assert.deepEqual(seen.map((r) => r.id).sort(), [...quick].sort());
      assert.equal(new Set(seen.map((r) => r.id)).size, 25);
      for (let i = 1; i < seen.length; i++) {
        assert.ok(Date.parse(seen[i - 1].createdAt) >= Date.parse(seen[i].createdAt), 'newest first');
      }
      // The same order as one big page.
      const all = await s.api('GET', '/v1/runs?workflow=quick&limit=200');
      assert.deepEqual(
        seen.map((r) => r.id),
        (all.body.items as Json[]).map((r) => r.id),
      );
      assert.equal(all.body.next, null);
    });

    it('filters by workflow, state (repeated), trigger, since and until', async () => {
      const list = async (q: string): Promise<Json[]> => {
        const r = await s.api('GET', `/v1/runs?limit=200&${q}`);
        assert.equal(r.status, 200, r.text);
        return r.body.items;
      };
      assert.deepEqual(
        (await list('workflow=fail')).map((r) => r.id),
        [failed],
      );
      const failedOrCancelled = await list('state=failed&state=cancelled');
      assert.ok(failedOrCancelled.some((r) => r.id === failed));
      assert.ok(failedOrCancelled.every((r) => r.state === 'failed' || r.state === 'cancelled'));
      const succeeded = await list('state=succeeded&workflow=quick');
      assert.equal(succeeded.length, 25);
      assert.deepEqual(
        (await list('trigger=schedule')).map((r) => r.id),
        [scheduled],
      );
      assert.ok((await list('trigger=api')).every((r) => r.trigger === 'api'));

      const all = await list('workflow=quick');
      const middle = all[12];
      const since = await list(`workflow=quick&since=${encodeURIComponent(middle.createdAt)}`);
      const until_ = await list(`workflow=quick&until=${encodeURIComponent(middle.createdAt)}`);
      assert.ok(since.every((r) => Date.parse(r.createdAt) >= Date.parse(middle.createdAt)));
      assert.ok(until_.every((r) => Date.parse(r.createdAt) < Date.parse(middle.createdAt)));
      assert.equal(since.length + until_.length, 25);
      assert.ok(since.some((r) => r.id === middle.id));
      // Milliseconds are accepted too.
      assert.equal((await list(`workflow=quick&since=${Date.parse(middle.createdAt)}`)).length, since.length);
    });

    it('gets a run with its task runs', async () => {
      const r = await s.api('GET', `/v1/runs/${failed}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.state, 'failed');
      assert.equal(typeof r.body.error, 'string');
      assert.deepEqual(
        (r.body.tasks as Json[]).map((t) => [t.task, t.kind, t.status, t.attempts]),
        [['a', 'shell', 'failed', 1]],
      );
      assert.deepEqual(r.body.children, []);
    });
  });

  describe('cancel and resume', () => {
    it('cancels a run with a long-running shell task; cancelling again is 409 RV604', async () => {
      const id = await startRun(s.api, 'long');
      await until(async () => {
        const l = await s.api('GET', `/v1/runs/${id}/logs`);
        return (l.body.items as Json[]).some((x) => x.line === 'started') ? true : undefined;
      }, 'the task to start');
      const c = await s.api('POST', `/v1/runs/${id}/cancel`);
      assert.equal(c.status, 202, c.text);
      assert.equal(c.body.id, id);
      const run = await waitRun(s.api, id);
      assert.equal(run.state, 'cancelled');
      const nap = ((await s.api('GET', `/v1/runs/${id}`)).body.tasks as Json[]).find((t) => t.task === 'nap');
      assert.equal(nap.status, 'cancelled');
      const again = await s.api('POST', `/v1/runs/${id}/cancel`);
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'RV604');
    });

    it('cancels a run waiting on an approval, which then no longer waits', async () => {
      const id = await startRun(s.api, 'stepped');
      await waitApproval(s.api, id, 'gate');
      assert.equal((await s.api('POST', `/v1/runs/${id}/cancel`)).status, 202);
      assert.equal((await waitRun(s.api, id)).state, 'cancelled');
      const pending = (await s.api('GET', '/v1/approvals')).body.items as Json[];
      assert.equal(
        pending.find((a) => a.runId === id),
        undefined,
      );
      const d = await s.api('POST', `/v1/runs/${id}/approvals/gate`, { body: { decision: 'approve' } });
      assert.equal(d.status, 409);
      assert.equal(d.body.code, 'RV604');
    });

    it('resumes a failed run to success, and re-runs from a task', async () => {
      const marker = join(s.dir, 'flaky-marker');
      const id = await startRun(s.api, 'flaky', { marker });
      assert.equal((await waitRun(s.api, id)).state, 'failed');
      assert.ok(existsSync(marker));

      // No body at all: `from` is optional.
      const notDone = await s.api('POST', `/v1/runs/${id}/resume`);
      assert.equal(notDone.status, 202, notDone.text);
      assert.equal(notDone.body.id, id);
      const resumed = await waitRun(s.api, id, ['succeeded', 'failed']);
      assert.equal(resumed.state, 'succeeded');
      const tasks = (await s.api('GET', `/v1/runs/${id}`)).body.tasks as Json[];
      assert.deepEqual(
        tasks.map((t) => [t.task, t.status]),
        [
          ['a', 'succeeded'],
          ['b', 'succeeded'],
        ],
      );

      // A run that succeeded has nothing to resume, unless `from` names where to start again.
      const nothing = await s.api('POST', `/v1/runs/${id}/resume`, { body: {} });
      assert.equal(nothing.status, 409, nothing.text);
      assert.equal(nothing.body.code, 'RV604');
      const from = await s.api('POST', `/v1/runs/${id}/resume`, { body: { from: 'b' } });
      assert.equal(from.status, 202, from.text);
      await until(async () => {
        const l = await s.api('GET', `/v1/runs/${id}/logs?task=b`);
        return (l.body.items as Json[]).filter((x) => x.line === 'b ran').length === 2 ? true : undefined;
      }, 'b to run again');
      assert.equal((await waitRun(s.api, id)).state, 'succeeded');
      const aLines = (await s.api('GET', `/v1/runs/${id}/logs?task=a`)).body.items as Json[];
      assert.deepEqual(
        aLines.filter((l) => l.stream === 'stdout').map((l) => l.line),
        ['first try', 'second try'],
      );

      for (const from of ['nope', 'b[3]', '']) {
        const bad = await s.api('POST', `/v1/runs/${id}/resume`, { body: { from } });
        assert.equal(bad.status, 400, bad.text);
        assert.equal(bad.body.code, 'RV705');
        assert.equal(bad.body.in, 'body');
        assert.equal(bad.body.pointer, '/from');
        assert.doesNotMatch(bad.body.message, /--from/);
      }
      // A bad `from` leaves the run as it was.
      assert.equal((await waitRun(s.api, id)).state, 'succeeded');
    });

    it('refuses to resume a run that is still running (409)', async () => {
      const id = await startRun(s.api, 'stepped');
      await waitApproval(s.api, id, 'gate');
      const r = await s.api('POST', `/v1/runs/${id}/resume`, { body: {} });
      assert.equal(r.status, 409);
      assert.equal(r.body.code, 'RV604');
      await s.api('POST', `/v1/runs/${id}/cancel`);
      await waitRun(s.api, id);
    });
  });

  describe('events', () => {
    it('answers the events as JSON, after a sequence number', async () => {
      const id = await startRun(s.api, 'quick');
      await waitRun(s.api, id);
      const all = (await s.api('GET', `/v1/runs/${id}/events`)).body.items as Json[];
      assert.equal(all[0].type, 'run.created');
      assert.equal(all.at(-1).type, 'run.succeeded');
      for (let i = 1; i < all.length; i++) assert.ok(all[i].seq > all[i - 1].seq);
      const rest = (await s.api('GET', `/v1/runs/${id}/events?after=${all[1].seq}`)).body.items as Json[];
      assert.deepEqual(rest, all.slice(2));
      assert.deepEqual((await s.api('GET', `/v1/runs/${id}/events?after=${all.at(-1).seq}`)).body.items, []);
    });

    it('streams a running run, and a reconnect with Last-Event-ID loses and repeats nothing', async () => {
      const id = await startRun(s.api, 'stepped');
      const url = `${s.url}/v1/runs/${id}/events`;
      const first: SseFrame[] = [];
      const stop = new AbortController();
      const one = readSse(
        url,
        s.adminToken,
        (f) => {
          first.push(f);
          // Leave once the run waits: what follows happens while no one listens.
          if (f.event === 'task.waiting' && f.data.task === 'gate') stop.abort();
        },
        { signal: stop.signal },
      );
      assert.deepEqual(await one, { status: 200, ended: false });
      assert.equal(first.at(-1)!.event, 'task.waiting');
      await waitApproval(s.api, id, 'gate');
      const d = await s.api('POST', `/v1/runs/${id}/approvals/gate`, { body: { decision: 'approve' } });
      assert.equal(d.status, 200, d.text);
      await until(async () => {
        const l = await s.api('GET', `/v1/runs/${id}/logs?task=second`);
        return l.body.items.length > 0 ? true : undefined;
      }, 'the run to go on');

      const second: SseFrame[] = [];
      const two = await readSse(url, s.adminToken, (f) => second.push(f), { lastEventId: first.at(-1)!.id! });
      assert.deepEqual(two, { status: 200, ended: true });
      assert.equal(second.at(-1)!.event, 'end');
      assert.deepEqual(second.at(-1)!.data, { id });
      assert.equal(second.filter((f) => f.event === 'end').length, 1);

      const stored = ((await s.api('GET', `/v1/runs/${id}/events`)).body.items as Json[]).map((e) => e.seq);
      const union = [...ids(first), ...ids(second)];
      assert.deepEqual(union, stored, 'every event once, in order');
      assert.ok(ids(second).length > 0 && ids(first).length > 0);
      for (const f of [...first, ...second].filter((x) => x.id !== null)) {
        assert.equal(f.data.seq, Number(f.id));
        assert.equal(f.data.type, f.event);
      }
      const last = second.at(-2)!;
      assert.equal(last.event, 'run.succeeded');
    });

    it('loses and repeats nothing over many reconnects during a busy run', async (t) => {
      const id = await startRun(s.api, 'busy');
      const url = `${s.url}/v1/runs/${id}/events`;
      const frames: SseFrame[] = [];
      let connections = 0;
      let ended = false;
      while (!ended && connections < 200) {
        connections++;
        const stop = new AbortController();
        let got = 0;
        const last = frames.findLast((f) => f.id !== null)?.id;
        const r = await readSse(
          url,
          s.adminToken,
          (f) => {
            frames.push(f);
            if (++got === 4) stop.abort();
          },
          { signal: stop.signal, ...(last == null ? {} : { lastEventId: last }) },
        );
        assert.equal(r.status, 200);
        ended = r.ended;
      }
      assert.equal(ended, true);
      assert.ok(connections > 3, `${connections} connections`);
      const stored = ((await s.api('GET', `/v1/runs/${id}/events`)).body.items as Json[]).map((e) => e.seq);
      assert.deepEqual(ids(frames), stored);
      assert.equal(frames.filter((f) => f.event === 'end').length, 1);
      assert.equal((await waitRun(s.api, id)).state, 'succeeded');
      t.diagnostic(`${stored.length} events over ${connections} connections`);
    });

    it('continues after ?after= too, and reads a finished run from the start then ends', async () => {
      const id = await startRun(s.api, 'quick');
      await waitRun(s.api, id);
      const stored = ((await s.api('GET', `/v1/runs/${id}/events`)).body.items as Json[]).map((e) => e.seq);
      const frames: SseFrame[] = [];
      const r = await readSse(`${s.url}/v1/runs/${id}/events`, s.adminToken, (f) => frames.push(f));
      assert.deepEqual(r, { status: 200, ended: true });
      assert.deepEqual(ids(frames), stored);
      assert.equal(frames.at(-1)!.event, 'end');

      const tail: SseFrame[] = [];
      await readSse(`${s.url}/v1/runs/${id}/events?after=${stored[2]}`, s.adminToken, (f) => tail.push(f));
      assert.deepEqual(ids(tail), stored.slice(3));
      assert.equal(tail.at(-1)!.event, 'end');

      // Reconnecting after the last event: nothing to replay, the stream just ends.
      const none: SseFrame[] = [];
      const end = await readSse(`${s.url}/v1/runs/${id}/events`, s.adminToken, (f) => none.push(f), {
        lastEventId: String(stored.at(-1)),
      });
      assert.equal(end.ended, true);
      assert.deepEqual(
        none.map((f) => f.event),
        ['end'],
      );
    });
  });

  describe('logs', () => {
    let id: string;

    before(async () => {
      id = await startRun(s.api, 'stepped');
      await waitApproval(s.api, id, 'gate');
      await s.api('POST', `/v1/runs/${id}/approvals/gate`, { body: { decision: 'approve', comment: 'go' } });
      await waitRun(s.api, id);
    });

    it('answers pages of lines with task, after, limit and next', async () => {
      const all = (await s.api('GET', `/v1/runs/${id}/logs`)).body;
      assert.equal(all.next, null);
      const lines = all.items as Json[];
      // Lines of one stream keep their order; stdout and stderr are two pipes, so not each other's.
      const of = (stream: string) => lines.filter((l) => l.stream === stream).map((l) => `${l.task}:${l.line}`);
      assert.deepEqual(of('stdout'), ['first:one', 'second:two', 'second:four']);
      assert.deepEqual(of('stderr'), ['second:three']);
      for (let i = 1; i < lines.length; i++) assert.ok(lines[i].seq > lines[i - 1].seq);

      const second = (await s.api('GET', `/v1/runs/${id}/logs?task=second`)).body.items as Json[];
      assert.ok(second.length >= 3 && second.every((l) => l.task === 'second'));

      const paged: Json[] = [];
      let after = 0;
      for (let i = 0; i < 50; i++) {
        const r = await s.api('GET', `/v1/runs/${id}/logs?limit=2&after=${after}`);
        assert.equal(r.status, 200);
        assert.ok(r.body.items.length <= 2);
        paged.push(...r.body.items);
        if (r.body.next === null) break;
        assert.equal(r.body.next, r.body.items.at(-1).seq);
        after = r.body.next;
      }
      assert.deepEqual(paged, lines);
    });

    it('streams lines live and ends after the last one', async () => {
      const run = await startRun(s.api, 'stepped');
      await waitApproval(s.api, run, 'gate');
      const frames: SseFrame[] = [];
      let approved = false;
      const done = readSse(`${s.url}/v1/runs/${run}/logs`, s.adminToken, (f) => {
        frames.push(f);
        // The first line is there before the decision; the rest come live.
        if (!approved && f.event === 'log' && f.data.line === 'one') {
          approved = true;
          void s.api('POST', `/v1/runs/${run}/approvals/gate`, { body: { decision: 'approve' } });
        }
      });
      const r = await done;
      assert.deepEqual(r, { status: 200, ended: true });
      assert.equal(frames.at(-1)!.event, 'end');
      const stored = (await s.api('GET', `/v1/runs/${run}/logs`)).body.items as Json[];
      assert.deepEqual(
        frames.filter((f) => f.event === 'log').map((f) => f.data),
        stored,
      );
      assert.ok(stored.some((l) => l.line === 'four'));

      const only: SseFrame[] = [];
      await readSse(`${s.url}/v1/runs/${run}/logs?task=first`, s.adminToken, (f) => only.push(f));
      assert.deepEqual(
        only.filter((f) => f.event === 'log').map((f) => f.data.task),
        stored.filter((l) => l.task === 'first').map(() => 'first'),
      );
      assert.equal(only.at(-1)!.event, 'end');
    });
  });

  describe('outputs and artifacts', () => {
    let id: string;
    let other: string;

    before(async () => {
      id = await startRun(s.api, 'art');
      other = await startRun(s.api, 'art');
      assert.equal((await waitRun(s.api, id)).state, 'succeeded');
      assert.equal((await waitRun(s.api, other)).state, 'succeeded');
    });

    it('answers the outputs of the run and of each task', async () => {
      const r0 = await startRun(s.api, 'inp', { team: 'ops', tier: 'archive' });
      await waitRun(s.api, r0);
      const r = await s.api('GET', `/v1/runs/${r0}/outputs`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {
        outputs: { where: 'ops/archive', size: 10 },
        tasks: { t: { where: 'ops/archive', size: 10 } },
      });
    });

    it('lists and downloads artifacts', async () => {
      const list = await s.api('GET', `/v1/runs/${id}/artifacts`);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items, [
        { path: 'w/sub/f.txt', size: 5 },
        { path: 'w/top.txt', size: 3 },
      ]);
      const f = await s.api('GET', `/v1/runs/${id}/artifacts/w/sub/f.txt`);
      assert.equal(f.status, 200);
      assert.equal(f.text, 'data\n');
      assert.equal(f.headers.get('content-type'), 'application/octet-stream');
      assert.equal(f.headers.get('content-disposition'), 'attachment; filename="f.txt"');
      assert.equal(f.headers.get('x-content-type-options'), 'nosniff');
      assert.equal((await s.api('GET', `/v1/runs/${id}/artifacts/w/top.txt`)).text, 'top');
      assert.equal((await s.api('GET', `/v1/runs/${id}/artifacts/w/missing.txt`)).status, 404);
      assert.equal((await s.api('GET', `/v1/runs/${id}/artifacts/w/sub`)).status, 404, 'a folder');
    });

    it('answers 404 to every path that leads out of the run', async () => {
      const base = `/v1/runs/${id}/artifacts/`;
      const attempts = [
        '../../../../../../etc/passwd',
        'w/../../../../../../../etc/passwd',
        `w/../../${other}/w/top.txt`,
        '..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
        '%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
        `%2e%2e/%2e%2e/${other}/w/top.txt`,
        '%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
        '/etc/passwd',
        '%2Fetc%2Fpasswd',
        '//etc/passwd',
        'w/link',
        'w/..',
        '..',
        '.',
        'w/%00',
      ];
      for (const path of attempts) {
        const r = await rawGet(s.url, base + path, s.adminToken);
        assert.equal(r.status, 404, `${path}: ${r.status} ${r.text}`);
        assert.doesNotMatch(r.text, /root:/, path);
        assert.equal(JSON.parse(r.text).code, 'RV704', path);
      }
      // The same file through its own run is fine.
      assert.equal((await rawGet(s.url, `/v1/runs/${other}/artifacts/w/top.txt`, s.adminToken)).text, 'top');
    });
  });

  describe('approvals', () => {
    let alice: string;
    let vic: string;

    before(async () => {
      alice = await s.user('alice', 'approver', { groups: ['ops'] });
      vic = await s.user('vic', 'viewer');
    });

    it('lists approvals (mine=true keeps those the caller may decide)', async () => {
      const id = await startRun(s.api, 'appr');
      await waitApproval(s.api, id, 'ok');
      const mineOf = async (token: string, mine: boolean): Promise<Json[]> => {
        const r = await s.api('GET', `/v1/approvals?mine=${mine}`, { token });
        assert.equal(r.status, 200);
        return (r.body.items as Json[]).filter((a) => a.runId === id);
      };
      const seen = await mineOf(vic, false);
      assert.equal(seen.length, 1);
      assert.equal(seen[0].canDecide, false);
      assert.equal(seen[0].workflow, 'appr');
      assert.equal(seen[0].message, 'ship it?');
      assert.deepEqual(seen[0].approvers, ['ops']);
      assert.deepEqual(await mineOf(vic, true), []);
      assert.equal((await mineOf(alice, true))[0].canDecide, true);
      // Admins too must be among the approvers.
      assert.deepEqual(await mineOf(s.adminToken, true), []);
      assert.equal((await mineOf(s.adminToken, false)).length, 1);

      const byAdmin = await s.api('POST', `/v1/runs/${id}/approvals/ok`, { body: { decision: 'approve' } });
      assert.equal(byAdmin.status, 403);
      assert.equal(byAdmin.body.code, 'RV703');
      const byViewer = await s.api('POST', `/v1/runs/${id}/approvals/ok`, {
        token: vic,
        body: { decision: 'approve' },
      });
      assert.equal(byViewer.status, 403);
      await s.api('POST', `/v1/runs/${id}/cancel`);
      await waitRun(s.api, id);
    });

    it('approves with a comment and fields, which the next task sees', async () => {
      const id = await startRun(s.api, 'appr');
      await waitApproval(s.api, id, 'ok');
      const notWaiting = await s.api('POST', `/v1/runs/${id}/approvals/ship`, {
        token: alice,
        body: { decision: 'approve' },
      });
      assert.equal(notWaiting.status, 409);
      assert.equal(notWaiting.body.code, 'RV604');

      const d = await s.api('POST', `/v1/runs/${id}/approvals/ok`, {
        token: alice,
        body: { decision: 'approve', comment: 'looks good', fields: { reason: 'tested' } },
      });
      assert.equal(d.status, 200, d.text);
      assert.deepEqual(d.body, { runId: id, task: 'ok', decision: 'approve' });
      const run = await waitRun(s.api, id);
      assert.equal(run.state, 'succeeded');
      const ship = (await s.api('GET', `/v1/runs/${id}/logs?task=ship`)).body.items as Json[];
      assert.deepEqual(
        ship.filter((l) => l.stream === 'stdout').map((l) => l.line),
        ['approve|looks good|tested|alice'],
      );
      const tasks = (await s.api('GET', `/v1/runs/${id}`)).body.tasks as Json[];
      assert.equal(tasks.find((t) => t.task === 'rollback').status, 'skipped');
      assert.deepEqual(tasks.find((t) => t.task === 'ok').outputs, {
        decision: 'approve',
        approver: 'alice',
        comment: 'looks good',
        fields: { reason: 'tested' },
      });

      const again = await s.api('POST', `/v1/runs/${id}/approvals/ok`, { token: alice, body: { decision: 'reject' } });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'RV604');
    });

    it('rejects: the run follows the decision', async () => {
      const id = await startRun(s.api, 'appr');
      await waitApproval(s.api, id, 'ok');
      const d = await s.api('POST', `/v1/runs/${id}/approvals/ok`, {
        token: alice,
        body: { decision: 'reject', comment: 'not today' },
      });
      assert.equal(d.status, 200, d.text);
      const run = await waitRun(s.api, id);
      assert.equal(run.state, 'succeeded');
      const tasks = (await s.api('GET', `/v1/runs/${id}`)).body.tasks as Json[];
      assert.deepEqual(tasks.map((t) => [t.task, t.status]).sort(), [
        ['ok', 'succeeded'],
        ['rollback', 'succeeded'],
        ['ship', 'skipped'],
      ]);
      assert.equal(tasks.find((t) => t.task === 'ok').outputs.fields.reason, 'none');
    });

    it('refuses fields that do not match the form, and the task keeps waiting', async () => {
      const id = await startRun(s.api, 'appr');
      await waitApproval(s.api, id, 'ok');
      const d = await s.api('POST', `/v1/runs/${id}/approvals/ok`, {
        token: alice,
        body: { decision: 'approve', fields: { reason: 5, typo: 'x' } },
      });
      assert.equal(d.status, 400, d.text);
      assert.equal(d.body.code, 'RV705');
      assert.equal(d.body.in, 'body');
      assert.deepEqual((d.body.details as Json[]).map((x) => x.pointer).sort(), ['/fields/reason', '/fields/typo']);
      await waitApproval(s.api, id, 'ok');
      const ok = await s.api('POST', `/v1/runs/${id}/approvals/ok`, {
        token: alice,
        body: { decision: 'approve', fields: { reason: 'fixed' } },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await waitRun(s.api, id)).state, 'succeeded');
    });
  });
});
