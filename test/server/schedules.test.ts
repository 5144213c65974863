// Schedules through the HTTP API on a fake clock (the scheduler and the engine share it): one run
// per tick whose trigger event holds the tick, a timezone with a six-field (seconds) cron,
// GET /v1/schedules with nextTick, pause (nothing fires) and resume with each catch_up policy
// (`latest` by default, `none`, `all`), and trigger (a run at once).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../src/engine/clock.ts';
import { startTestServer, type TestServer, until } from '../helpers/server.ts';
import { waitRun, type Json } from './api-support.ts';

const MIN = 60_000;
/** 03:01:00 UTC, a Monday; 09:00 in Asia/Kolkata (UTC+05:30) is 03:30 UTC. */
const START = Date.UTC(2026, 0, 5, 3, 1, 0);
const at = (h: number, m: number, s = 0): number => Date.UTC(2026, 0, 5, h, m, s);
const iso = (ms: number): string => new Date(ms).toISOString();

const every5 = (name: string, extra = ''): string => `name: ${name}
inputs:
  who: { type: string, default: nobody }
tasks:
  a:
    noop: {}
on:
  schedule: { cron: "*/5 * * * *", inputs: { who: ${name} }${extra} }
`;

const WORKFLOWS: Record<string, string> = {
  'latest.yaml': every5('latest'),
  'none.yaml': every5('none', ', catch_up: none'),
  'all.yaml': every5('all', ', catch_up: all'),
  'ctrl.yaml': every5('ctrl'),
  'tz.yaml': `name: tz
tasks:
  a:
    noop: {}
on:
  schedule:
    - { cron: "15 0 9 * * *", timezone: Asia/Kolkata }
`,
};

const sid = (workflow: string): string => encodeURIComponent(`${workflow}#0`);

describe('schedules on a fake clock', () => {
  let s: TestServer;
  let clock: FakeClock;

  /** The scheduled runs of a workflow, oldest first, each with its trigger event. */
  const scheduled = async (workflow: string): Promise<{ id: string; event: Json; run: Json }[]> => {
    const r = await s.api('GET', `/v1/runs?trigger=schedule&workflow=${workflow}&limit=200`);
    assert.equal(r.status, 200, r.text);
    const out = [];
    for (const run of (r.body.items as Json[]).reverse()) {
      const events = (await s.api('GET', `/v1/runs/${run.id}/events`)).body.items as Json[];
      assert.equal(events[0].type, 'run.created');
      out.push({ id: run.id as string, event: events[0].data.event, run });
    }
    return out;
  };

  const count = async (workflow: string): Promise<number> =>
    ((await s.api('GET', `/v1/runs?trigger=schedule&workflow=${workflow}&limit=200`)).body.items as Json[]).length;

  const schedule = async (workflow: string): Promise<Json> => {
    const r = await s.api('GET', `/v1/schedules/${sid(workflow)}`);
    assert.equal(r.status, 200, r.text);
    return r.body;
  };

  /** Waits until the schedule is armed for `tick` (its previous fire is done). */
  const armed = (workflow: string, tick: number): Promise<unknown> =>
    until(
      async () => ((await schedule(workflow)).nextTick === iso(tick) ? true : undefined),
      `${workflow} to wait for ${iso(tick)}`,
    );

  const advanceTo = (ms: number): Promise<void> => clock.advance(ms - clock.now());

  before(async () => {
    clock = new FakeClock(START);
    s = await startTestServer({ workflows: WORKFLOWS, clock });
  });
  after(async () => {
    await s?.stop();
  });

  it('lists the schedules with their next tick', async () => {
    const r = await s.api('GET', '/v1/schedules');
    assert.equal(r.status, 200);
    const byId = new Map((r.body.items as Json[]).map((x) => [x.id, x]));
    assert.deepEqual([...byId.keys()].sort(), ['all#0', 'ctrl#0', 'latest#0', 'none#0', 'tz#0']);
    assert.deepEqual(byId.get('latest#0'), {
      id: 'latest#0',
      workflow: 'latest',
      cron: '*/5 * * * *',
      timezone: 'UTC',
      catchUp: 'latest',
      paused: false,
      lastTick: iso(START),
      nextTick: iso(at(3, 5)),
      inputs: { who: 'latest' },
      canControl: true,
    });
    assert.equal(byId.get('none#0').catchUp, 'none');
    assert.equal(byId.get('all#0').catchUp, 'all');
    assert.equal(byId.get('tz#0').timezone, 'Asia/Kolkata');
    assert.equal(byId.get('tz#0').nextTick, iso(at(3, 30, 15)));
    assert.deepEqual(await schedule('tz'), byId.get('tz#0'));
  });

  it('starts one run per tick, whose trigger event holds the tick', async () => {
    for (const tick of [at(3, 5), at(3, 10), at(3, 15)]) {
      for (const w of ['latest', 'ctrl']) await armed(w, tick);
      await advanceTo(tick);
      const n = (tick - at(3, 0)) / (5 * MIN);
      await until(async () => ((await count('latest')) === n ? true : undefined), `${n} runs`);
    }
    // A little past the last tick: nothing more.
    await advanceTo(at(3, 17));
    const runs = await scheduled('latest');
    assert.deepEqual(
      runs.map((r) => r.event.tick),
      [iso(at(3, 5)), iso(at(3, 10)), iso(at(3, 15))],
    );
    for (const r of runs) {
      assert.equal(r.event.schedule, 'latest#0');
      assert.equal(r.event.reason, 'tick');
      assert.equal(r.run.trigger, 'schedule');
      assert.deepEqual(r.run.inputs, { who: 'latest' });
      assert.equal((await waitRun(s.api, r.id)).state, 'succeeded');
    }
    assert.equal((await scheduled('ctrl')).length, 3);
    assert.equal((await schedule('latest')).lastTick, iso(at(3, 15)));
    assert.equal((await schedule('latest')).nextTick, iso(at(3, 20)));
  });

  it('fires a six-field cron in its time zone', async () => {
    await armed('tz', at(3, 30, 15));
    await advanceTo(at(3, 30, 14));
    assert.equal(await count('tz'), 0);
    await advanceTo(at(3, 30, 15));
    await until(async () => ((await count('tz')) === 1 ? true : undefined), 'the tz run');
    const [run] = await scheduled('tz');
    assert.equal(run!.event.tick, iso(at(3, 30, 15)));
    // The next 09:00:15 in Kolkata is a day later.
    await armed('tz', at(3, 30, 15) + 86_400_000);
  });

  it('fires nothing while paused, then catches up by policy on resume', async () => {
    const policies = ['latest', 'none', 'all'];
    const before = new Map<string, number>();
    for (const w of policies) {
      before.set(w, await count(w));
      const p = await s.api('POST', `/v1/schedules/${sid(w)}/pause`);
      assert.equal(p.status, 200, p.text);
      assert.equal(p.body.paused, true);
      assert.equal(p.body.nextTick, null);
    }
    const ctrl = await count('ctrl');
    // Three ticks pass (03:35, 03:40, 03:45); the control schedule fires each.
    for (const tick of [at(3, 35), at(3, 40), at(3, 45)]) {
      await armed('ctrl', tick);
      await advanceTo(tick);
    }
    await until(async () => ((await count('ctrl')) === ctrl + 3 ? true : undefined), 'the control runs');
    await advanceTo(at(3, 47));
    for (const w of policies) {
      assert.equal(await count(w), before.get(w), `${w} fired while paused`);
      assert.equal((await schedule(w)).paused, true);
    }

    for (const w of policies) {
      const r = await s.api('POST', `/v1/schedules/${sid(w)}/resume`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.paused, false);
    }
    for (const w of policies) {
      await until(async () => ((await schedule(w)).lastTick === iso(at(3, 45)) ? true : undefined), `${w} caught up`);
      await armed(w, at(3, 50));
    }
    const ticksAfter = async (w: string): Promise<string[]> =>
      (await scheduled(w)).slice(before.get(w)).map((r) => `${r.event.tick} ${r.event.reason}`);
    assert.deepEqual(await ticksAfter('latest'), [`${iso(at(3, 45))} catch_up`]);
    assert.deepEqual(await ticksAfter('none'), []);
    assert.deepEqual(await ticksAfter('all'), [
      `${iso(at(3, 35))} catch_up`,
      `${iso(at(3, 40))} catch_up`,
      `${iso(at(3, 45))} catch_up`,
    ]);

    // Resumed schedules fire on time again.
    await advanceTo(at(3, 50));
    for (const w of policies) {
      await until(
        async () => ((await schedule(w)).lastTick === iso(at(3, 50)) ? true : undefined),
        `${w} to fire at 03:50`,
      );
      assert.deepEqual((await ticksAfter(w)).at(-1), `${iso(at(3, 50))} tick`);
    }
    // Resuming a schedule that is not paused changes nothing.
    const again = await s.api('POST', `/v1/schedules/${sid('latest')}/resume`);
    assert.equal(again.status, 200);
    assert.equal(again.body.nextTick, iso(at(3, 55)));
  });

  it('triggers a run at once (202), leaving the ticks alone', async () => {
    const last = (await schedule('latest')).lastTick;
    const n = await count('latest');
    const r = await s.api('POST', `/v1/schedules/${sid('latest')}/trigger`);
    assert.equal(r.status, 202, r.text);
    assert.match(r.body.runId, /^[a-z0-9]+$/);
    const run = await waitRun(s.api, r.body.runId);
    assert.equal(run.state, 'succeeded');
    assert.equal(run.trigger, 'schedule');
    assert.deepEqual(run.inputs, { who: 'latest' });
    const created = (await s.api('GET', `/v1/runs/${r.body.runId}/events`)).body.items[0];
    assert.equal(created.data.event.reason, 'manual');
    assert.equal(created.data.event.schedule, 'latest#0');
    assert.equal(created.data.event.tick, iso(clock.now()));
    assert.equal(await count('latest'), n + 1);
    assert.equal((await schedule('latest')).lastTick, last);

    // A paused schedule can still be triggered by hand.
    await s.api('POST', `/v1/schedules/${sid('none')}/pause`);
    const t = await s.api('POST', `/v1/schedules/${sid('none')}/trigger`);
    assert.equal(t.status, 202, t.text);
    assert.equal((await waitRun(s.api, t.body.runId)).state, 'succeeded');
  });

  it('refuses schedule actions from a viewer with 403 and unknown ids with 404', async () => {
    const viewer = await s.user('sched-viewer', 'viewer');
    const list = await s.api('GET', '/v1/schedules', { token: viewer });
    assert.equal(list.status, 200);
    assert.ok((list.body.items as Json[]).every((x) => x.canControl === false));
    for (const action of ['pause', 'resume', 'trigger']) {
      const r = await s.api('POST', `/v1/schedules/${sid('ctrl')}/${action}`, { token: viewer });
      assert.equal(r.status, 403, `${action}: ${r.text}`);
      assert.equal(r.body.code, 'RV703');
    }
    const unknown = await s.api('POST', `/v1/schedules/${encodeURIComponent('ctrl#7')}/pause`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'RV704');
  });
});
