/**
 * Server figures, each beside its baseline measured in the same run. The servers run in their own
 * processes (bench/api-server.ts), the clients here, so each side has a core of the 2-core box.
 * - `api`: 50 concurrent clients (an undici Pool of 50 keep-alive connections) POSTing /v1/runs of
 *   a one-noop-task workflow, under synchronous NORMAL and FULL: requests/s, p50 and p99 latency,
 *   and how long until every started run has succeeded; beside a bare Fastify app's `POST /hello`
 *   (a small JSON body) and `GET /hello`, hammered by the same client code.
 * - `sse`: one run emitting a few hundred events over about two seconds, streamed to 200
 *   subscribers of GET /v1/runs/{id}/events (one admin token, the server started with
 *   `sse_per_token: 1000`): every subscriber gets every event exactly once (checked; the bench
 *   throws otherwise), the delivery lag from an event's `at` to its arrival, and the server's CPU
 *   time during the fan-out; beside the same run read by a single subscriber.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, Pool, request } from 'undici';
import type { FromChild, ServerSpec, ToChild } from './api-server.ts';
import type { Figure } from './harness.ts';

const childScript = fileURLToPath(new URL('api-server.ts', import.meta.url));

/** A server in a child process, driven over IPC. */
class ServerProcess {
  readonly #proc: ChildProcess;
  readonly #waiters: ((m: FromChild) => void)[] = [];
  url = '';
  token = '';

  private constructor(proc: ChildProcess) {
    this.#proc = proc;
    proc.on('message', (m: FromChild) => this.#waiters.shift()?.(m));
  }

  static async start(spec: ServerSpec): Promise<ServerProcess> {
    // RIVET_BENCH_CPU_PROF=<dir>: write a CPU profile of each server process there.
    const prof = process.env.RIVET_BENCH_CPU_PROF;
    const proc = fork(childScript, [JSON.stringify(spec)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`],
    });
    const s = new ServerProcess(proc);
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`bench server exited with ${code}`))),
    );
    exited.catch(() => undefined); // a normal exit after stop() is no error
    const ready = await Promise.race([s.#next(), exited]);
    if (ready.type !== 'ready') throw new Error(`unexpected message ${ready.type}`);
    s.url = ready.url;
    s.token = ready.token;
    return s;
  }

  #next(): Promise<FromChild> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #ask(m: ToChild): Promise<FromChild> {
    const reply = this.#next();
    this.#proc.send(m);
    return reply;
  }

  /** The child's CPU time so far (user + system), in ms. */
  async cpuMs(): Promise<number> {
    const m = await this.#ask({ type: 'cpu' });
    if (m.type !== 'cpu') throw new Error(`unexpected message ${m.type}`);
    return (m.user + m.system) / 1000;
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#proc.once('exit', resolve));
    await this.#ask({ type: 'stop' });
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

interface Load {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly token?: string;
  readonly body?: unknown;
  readonly expect: number;
}

interface LoadResult {
  readonly reqPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly wallMs: number;
}

/** `total` requests from `concurrency` clients, each waiting for its answer before the next. */
async function hammer(url: string, load: Load, total: number, concurrency = 50): Promise<LoadResult> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const headers: Record<string, string> = {};
  if (load.token !== undefined) headers.authorization = `Bearer ${load.token}`;
  if (load.body !== undefined) headers['content-type'] = 'application/json';
  const body = load.body === undefined ? null : JSON.stringify(load.body);
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const t = performance.now();
        const res = await pool.request({ method: load.method, path: load.path, headers, body });
        const text = await res.body.text();
        latencies.push(performance.now() - t);
        if (res.statusCode !== load.expect) {
          throw new Error(`${load.method} ${load.path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
        }
      }
    }),
  );
  const wallMs = performance.now() - t0;
  await pool.close();
  return { reqPerSec: total / (wallMs / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99), wallMs };
}

async function getJson<T>(url: string, token: string): Promise<T> {
  const res = await request(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${await res.body.text()}`);
  return (await res.body.json()) as T;
}

async function postJson<T>(url: string, token: string, body: unknown, expect = 201): Promise<T> {
  const res = await request(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.statusCode !== expect) throw new Error(`POST ${url} answered ${res.statusCode}: ${await res.body.text()}`);
  return (await res.body.json()) as T;
}

/** Runs of a workflow that ended, by state, from /metrics. */
async function finishedRuns(s: ServerProcess, workflow: string): Promise<Record<string, number>> {
  const res = await request(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.token}` } });
  const text = await res.body.text();
  const out: Record<string, number> = {};
  const re = new RegExp(`^rivet_runs_finished_total\\{workflow="${workflow}",state="(\\w+)"\\} (\\d+)$`, 'gm');
  for (const m of text.matchAll(re)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Polls /metrics until `count` runs of `workflow` have ended; returns them by final state. */
async function waitFinished(s: ServerProcess, workflow: string, count: number): Promise<Record<string, number>> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const f = await finishedRuns(s, workflow);
    if (Object.values(f).reduce((a, b) => a + b, 0) >= count) return f;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${count} runs of ${workflow}: ${JSON.stringify(f)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const NOOP = 'name: noop\ntasks:\n  only: { noop: {} }\n';
const WARMUP = 300;
const TOTAL = 3000;

async function startRuns(synchronous: 'NORMAL' | 'FULL'): Promise<Figure[]> {
  const s = await ServerProcess.start({ mode: 'rivet', workflows: { 'noop.yaml': NOOP }, settings: { synchronous } });
  try {
    const load: Load = { method: 'POST', path: '/v1/runs', token: s.token, body: { workflow: 'noop' }, expect: 201 };
    await hammer(s.url, load, WARMUP);
    await waitFinished(s, 'noop', WARMUP);
    const r = await hammer(s.url, load, TOTAL);
    const answered = performance.now();
    const f = await waitFinished(s, 'noop', WARMUP + TOTAL);
    const drainMs = performance.now() - answered;
    const succeeded = (f.succeeded ?? 0) - WARMUP;
    const label = `POST /v1/runs (one-noop-task workflow), 50 clients, synchronous ${synchronous}`;
    return [
      { name: label, value: r.reqPerSec, unit: 'req/s' },
      { name: `${label}, p50 latency`, value: r.p50, unit: 'ms' },
      { name: `${label}, p99 latency`, value: r.p99, unit: 'ms' },
      {
        name: `${TOTAL} runs started (${synchronous}): succeeded`,
        value: succeeded,
        unit: 'runs',
        baseline: { name: 'runs started', value: TOTAL },
      },
      {
        name: `${TOTAL} runs (${synchronous}): all ended, after the last POST answered`,
        value: drainMs,
        unit: 'ms',
      },
      {
        name: `${TOTAL} runs (${synchronous}): first POST to last run ended`,
        value: (r.wallMs + drainMs) / 1000,
        unit: 's',
      },
    ];
  } finally {
    await s.stop();
  }
}

export async function apiFigures(): Promise<Figure[]> {
  // Baseline first: a bare Fastify app, same client code, same counts.
  const bare = await ServerProcess.start({ mode: 'bare' });
  let post: LoadResult;
  let get: LoadResult;
  try {
    const postLoad: Load = { method: 'POST', path: '/hello', body: { name: 'noop' }, expect: 200 };
    const getLoad: Load = { method: 'GET', path: '/hello', expect: 200 };
    await hammer(bare.url, postLoad, WARMUP);
    post = await hammer(bare.url, postLoad, TOTAL);
    await hammer(bare.url, getLoad, WARMUP);
    get = await hammer(bare.url, getLoad, TOTAL);
  } finally {
    await bare.stop();
  }
  const figures: Figure[] = [];
  for (const sync of ['NORMAL', 'FULL'] as const) {
    const [rps, p50, p99, ...rest] = await startRuns(sync);
    figures.push(
      { ...rps!, baseline: { name: 'bare Fastify POST /hello (small JSON body)', value: post.reqPerSec } },
      { ...p50!, baseline: { name: 'bare Fastify POST /hello p50', value: post.p50 } },
      { ...p99!, baseline: { name: 'bare Fastify POST /hello p99', value: post.p99 } },
      ...rest,
    );
  }
  figures.push(
    { name: 'bare Fastify GET /hello, 50 clients', value: get.reqPerSec, unit: 'req/s' },
    { name: 'bare Fastify GET /hello, p99 latency', value: get.p99, unit: 'ms' },
  );
  return figures;
}

// ---------------------------------------------------------------------------------------------
// SSE fan-out

const TICKS = 150;
/** An approval gate (so every subscriber is connected before the events start), then a chain of sleeps. */
function tickerWorkflow(): string {
  const lines = ['name: ticker', 'tasks:', '  gate:', '    approval: { message: go, approvers: [admin] }'];
  for (let i = 0; i < TICKS; i++) {
    lines.push(`  t${i}:`, `    needs: [${i === 0 ? 'gate' : `t${i - 1}`}]`, '    sleep: { duration: 10ms }');
  }
  return `${lines.join('\n')}\n`;
}

interface Subscriber {
  status: number;
  readonly seqs: number[];
  /** Arrival (epoch ms) minus the event's `at` (whole ms), per event, with its seq. */
  readonly lags: { seq: number; lag: number }[];
  ended: boolean;
  done: Promise<void>;
}

function subscribe(agent: Agent, url: string, token: string): Subscriber {
  const sub: Subscriber = { status: 0, seqs: [], lags: [], ended: false, done: Promise.resolve() };
  sub.done = (async () => {
    const res = await request(url, {
      dispatcher: agent,
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    });
    sub.status = res.statusCode;
    if (res.statusCode !== 200) {
      await res.body.text();
      return;
    }
    res.body.setEncoding('utf8');
    let buffer = '';
    for await (const chunk of res.body as AsyncIterable<string>) {
      // Sub-millisecond arrival; `at` has whole milliseconds, so a lag reads up to 1 ms long.
      const arrived = performance.timeOrigin + performance.now();
      buffer += chunk;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = '';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (event === '') continue;
        if (event === 'end') {
          sub.ended = true;
          continue;
        }
        const e = JSON.parse(data) as { seq: number; at: string };
        sub.seqs.push(e.seq);
        sub.lags.push({ seq: e.seq, lag: arrived - Date.parse(e.at) });
      }
    }
  })();
  return sub;
}

interface FanOut {
  readonly events: number;
  readonly liveEvents: number;
  readonly lagP50: number;
  readonly lagP99: number;
  readonly cpuMs: number;
  /** This (client) process's CPU time over the same span. */
  readonly clientCpuMs: number;
  readonly wallMs: number;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Events = { items: { seq: number }[] };

/** One ticker run streamed to `count` subscribers; checks that each got every event exactly once. */
async function fanOut(s: ServerProcess, count: number): Promise<FanOut> {
  const run = await postJson<{ id: string }>(`${s.url}/v1/runs`, s.token, { workflow: 'ticker' });
  const eventsUrl = `${s.url}/v1/runs/${run.id}/events`;
  await until(
    async () => (await getJson<{ state: string }>(`${s.url}/v1/runs/${run.id}`, s.token)).state === 'waiting',
    'the gate',
  );
  const before = (await getJson<Events>(eventsUrl, s.token)).items;
  const gateSeq = before.at(-1)!.seq;
  const agent = new Agent({ connections: null });
  const subs = Array.from({ length: count }, () => subscribe(agent, eventsUrl, s.token));
  // Every subscriber is connected and has read the backlog: from here on, every event is live.
  await until(() => subs.every((x) => x.seqs.at(-1) === gateSeq), 'the subscribers');
  const bad = subs.find((x) => x.status !== 200);
  if (bad !== undefined) throw new Error(`a subscriber was answered ${bad.status}`);
  const cpu0 = await s.cpuMs();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await postJson(`${s.url}/v1/runs/${run.id}/approvals/gate`, s.token, { decision: 'approve' }, 200);
  await Promise.all(subs.map((x) => x.done));
  const wallMs = performance.now() - t0;
  const cpuMs = (await s.cpuMs()) - cpu0;
  const client = process.cpuUsage(client0);
  await agent.close();
  const all = (await getJson<Events>(eventsUrl, s.token)).items.map((e) => e.seq);
  for (const [i, x] of subs.entries()) {
    if (!x.ended) throw new Error(`subscriber ${i} got no end frame`);
    if (x.seqs.length !== all.length || x.seqs.some((seq, j) => seq !== all[j])) {
      throw new Error(
        `subscriber ${i} got ${x.seqs.length} events, not the run's ${all.length} exactly once, in order`,
      );
    }
  }
  const lags = subs.flatMap((x) => x.lags.filter((l) => l.seq > gateSeq).map((l) => l.lag));
  return {
    events: all.length,
    liveEvents: all.filter((seq) => seq > gateSeq).length,
    lagP50: percentile(lags, 50),
    lagP99: percentile(lags, 99),
    cpuMs,
    clientCpuMs: (client.user + client.system) / 1000,
    wallMs,
  };
}

const SUBSCRIBERS = 200;

export async function sseFigures(): Promise<Figure[]> {
  const s = await ServerProcess.start({
    mode: 'rivet',
    workflows: { 'ticker.yaml': tickerWorkflow() },
    settings: { synchronous: 'NORMAL', sse_per_token: 1000 },
  });
  try {
    await fanOut(s, 1); // warm-up
    const one = await fanOut(s, 1);
    const many = await fanOut(s, SUBSCRIBERS);
    const label = `${many.liveEvents} live events (${TICKS} sleep tasks of 10 ms)`;
    const extra = many.cpuMs - one.cpuMs;
    return [
      {
        name: `${label} to ${SUBSCRIBERS} subscribers: every event received exactly once by each`,
        value: SUBSCRIBERS * many.events,
        unit: 'events delivered',
        baseline: { name: `${SUBSCRIBERS} x ${many.events}`, value: SUBSCRIBERS * many.events },
      },
      {
        name: `${label}, ${SUBSCRIBERS} subscribers: delivery lag p50`,
        value: many.lagP50,
        unit: 'ms',
        baseline: { name: '1 subscriber', value: one.lagP50 },
      },
      {
        name: `${label}, ${SUBSCRIBERS} subscribers: delivery lag p99`,
        value: many.lagP99,
        unit: 'ms',
        baseline: { name: '1 subscriber', value: one.lagP99 },
      },
      {
        name: `${label}, ${SUBSCRIBERS} subscribers: server CPU during the run`,
        value: many.cpuMs,
        unit: 'ms',
        baseline: { name: '1 subscriber', value: one.cpuMs },
      },
      {
        name: `${label}, ${SUBSCRIBERS} subscribers: client (bench process) CPU during the run`,
        value: many.clientCpuMs,
        unit: 'ms',
        baseline: { name: '1 subscriber', value: one.clientCpuMs },
      },
      {
        name: `server CPU per extra event delivered ((CPU with ${SUBSCRIBERS} - CPU with 1) / (${SUBSCRIBERS - 1} x ${many.events}))`,
        value: (extra * 1000) / ((SUBSCRIBERS - 1) * many.events),
        unit: 'µs',
      },
      {
        name: `${label}, ${SUBSCRIBERS} subscribers: approval to every subscriber's end frame`,
        value: many.wallMs,
        unit: 'ms',
        baseline: { name: '1 subscriber', value: one.wallMs },
      },
    ];
  } finally {
    await s.stop();
  }
}
