// S3 (RELIABILITY.md 4.2): SSE clients connected to GET /v1/runs/{id}/events while `rivet server`
// is killed with SIGKILL and started again on the same port. Each client reconnects (retrying
// while the server is down) with `Last-Event-ID` = the last id it saw, until the stream sends
// `event: end`. At the end each client's frames must be exactly the run's event log as
// GET /v1/runs/{id}/events (JSON) returns it: same seq list, in order, 0 missing, 0 duplicate,
// same types. The runs themselves must succeed (the restarted server recovers them).
//
// CI: 10 rounds x 2 kills = 20 kills, 3 runs x 3 clients per round. RIVET_STRESS=N: 10 x N
// rounds. RIVET_SEED=<n>: the seed of the kill delays.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { prng, sleep } from '../crash/harness.ts';
import { readSse, type SseFrame, until } from '../helpers/server.ts';
import {
  assertNone,
  BASE_SEED,
  checkHistory,
  killAll,
  RestartableServer,
  runEvents,
  STRESS,
} from './restart-helpers.ts';

after(killAll);

const ROUNDS = 10 * STRESS;
const KILLS_PER_ROUND = 2;
const RUNS = 3;
const CLIENTS = 3;
/** Each kill comes this long (real ms, uniform, seeded) after the clients connected or the restart. */
const KILL_MIN_MS = 200;
const KILL_MAX_MS = 1500;

const WORKFLOW = `name: chatty
tasks:
  fan:
    for_each: [${Array.from({ length: 30 }, (_, i) => i).join(', ')}]
    concurrency: 3
    shell:
      run: sleep 0.15
  nap:
    needs: fan
    sleep: { duration: 400ms }
  tail:
    needs: nap
    for_each: [${Array.from({ length: 10 }, (_, i) => i).join(', ')}]
    concurrency: 2
    shell:
      run: sleep 0.05
`;

/** A client that follows one run's events across server deaths. */
class Client {
  readonly frames: SseFrame[] = [];
  connections = 0;
  lastId: string | undefined;
  ended = false;
  readonly done: Promise<void>;

  readonly server: RestartableServer;
  readonly runId: string;

  constructor(server: RestartableServer, runId: string) {
    this.server = server;
    this.runId = runId;
    this.done = this.#follow();
  }

  async #follow(): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (!this.ended && Date.now() < deadline) {
      const { status, ended } = await readSse(
        `${this.server.url}/v1/runs/${this.runId}/events`,
        this.server.token,
        (f) => {
          if (f.event === 'end') return;
          this.frames.push(f);
          if (f.id !== null) this.lastId = f.id;
        },
        this.lastId === undefined ? {} : { lastEventId: this.lastId },
      );
      if (status === 200) this.connections++;
      if (ended) this.ended = true;
      else await sleep(status === 200 ? 5 : 50); // dropped (killed server) or refused: reconnect
    }
  }
}

interface RoundResult {
  readonly kills: number;
  readonly clients: number;
  readonly frames: number;
  readonly reconnects: number;
  /** Clients whose stream had not ended when a kill came, summed over the kills. */
  readonly midStream: number;
}

async function round(server: RestartableServer, n: number, random: () => number, seed: number): Promise<RoundResult> {
  const context = (): string =>
    `seed ${seed} round ${n} (rerun with RIVET_SEED=${seed}); data ${server.data}\n${server.stderr()}`;
  const runIds: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const res = await server.api('POST', '/v1/runs', { body: { workflow: 'chatty', inputs: {} } });
    assert.equal(res.status, 201, `POST /v1/runs: ${res.text}\n${context()}`);
    runIds.push(res.body.id as string);
  }
  const clients = runIds.flatMap((id) => Array.from({ length: CLIENTS }, () => new Client(server, id)));
  let kills = 0;
  let midStream = 0;
  for (let k = 0; k < KILLS_PER_ROUND; k++) {
    await sleep(KILL_MIN_MS + random() * (KILL_MAX_MS - KILL_MIN_MS));
    midStream += clients.filter((c) => !c.ended).length;
    await server.kill();
    kills++;
    await server.start();
  }
  await until(
    () => (clients.every((c) => c.ended) ? true : undefined),
    `every SSE client to see the end of its run (round ${n})`,
    120_000,
  ).catch((error: Error) => {
    const open = clients.filter((c) => !c.ended);
    throw new Error(
      `${error.message}: ${open.length} open: ${open.map((c) => `${c.runId} last ${c.lastId}`).join(', ')}\n${context()}`,
    );
  });
  await Promise.all(clients.map((c) => c.done));

  const problems: string[] = [];
  for (const id of runIds) {
    const run = await server.api('GET', `/v1/runs/${id}`);
    if (run.body.state !== 'succeeded') problems.push(`run ${id} ended ${run.body.state}: ${run.body.error}`);
    const events = await runEvents(server.api, id);
    problems.push(...checkHistory(id, events, 'succeeded'));
    const want = events.map((e) => e.seq);
    const types = new Map(events.map((e) => [e.seq, e.type]));
    for (const [ci, c] of clients.filter((x) => x.runId === id).entries()) {
      const got = c.frames.map((f) => Number(f.id));
      const seen = new Set<number>();
      const dup = got.filter((s) => (seen.has(s) ? true : (seen.add(s), false)));
      const missing = want.filter((s) => !seen.has(s));
      const extra = got.filter((s) => !types.has(s));
      const disordered = got.filter((s, i) => i > 0 && s <= got[i - 1]!);
      const wrongType = c.frames.filter((f) => types.has(Number(f.id)) && types.get(Number(f.id)) !== f.event);
      const who = `client ${ci} of run ${id} (${c.connections} connections)`;
      if (dup.length > 0) problems.push(`${who}: ${dup.length} duplicate event(s): seq ${dup.slice(0, 10).join(', ')}`);
      if (missing.length > 0)
        problems.push(`${who}: ${missing.length} missing event(s): seq ${missing.slice(0, 10).join(', ')}`);
      if (extra.length > 0)
        problems.push(`${who}: ${extra.length} event(s) not in the log: seq ${extra.slice(0, 10).join(', ')}`);
      if (disordered.length > 0) problems.push(`${who}: out of order at seq ${disordered.slice(0, 10).join(', ')}`);
      if (wrongType.length > 0) problems.push(`${who}: ${wrongType.length} frame(s) with another type than the log's`);
      if (got.length > 0 && c.frames.some((f) => f.data?.seq !== Number(f.id)))
        problems.push(`${who}: id and data.seq differ`);
    }
  }
  assertNone(problems, context);
  return {
    kills,
    clients: clients.length,
    frames: clients.reduce((s, c) => s + c.frames.length, 0),
    reconnects: clients.reduce((s, c) => s + c.connections - 1, 0),
    midStream,
  };
}

test(`S3: SSE clients across kill -9 of the server, ${ROUNDS} rounds x ${KILLS_PER_ROUND} kills`, async () => {
  const t0 = performance.now();
  const seed = (BASE_SEED + 2000) >>> 0;
  const random = prng(seed);
  console.log(`S3: seed ${seed}`);
  const server = new RestartableServer(`s3-${seed}`, { 'chatty.yaml': WORKFLOW });
  await server.start();
  const results: RoundResult[] = [];
  for (let n = 0; n < ROUNDS; n++) results.push(await round(server, n, random, seed));
  await server.stop();
  assert.equal(await server.integrity(), 'ok');
  server.cleanup();
  const sum = (f: (r: RoundResult) => number): number => results.reduce((s, r) => s + f(r), 0);
  console.log(
    `S3: ${sum((r) => r.kills)} kills, ${sum((r) => r.clients)} clients (${sum((r) => r.midStream)} client streams cut by a kill), ${sum((r) => r.frames)} frames received, ` +
      `${sum((r) => r.reconnects)} reconnections with Last-Event-ID, 0 missing, 0 duplicate; ` +
      `restart to ready p50 ${Math.round(server.restartMs.sort((a, b) => a - b)[server.restartMs.length >> 1]!)} ms; ` +
      `wall ${Math.round((performance.now() - t0) / 1000)} s`,
  );
  assert.equal(
    sum((r) => r.kills),
    ROUNDS * KILLS_PER_ROUND,
  );
});
