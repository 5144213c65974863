/**
 * `rivet run|runs|approve --server URL` (or RIVET_SERVER): the same commands as on the local
 * store, through the Automation API, with the same output and exit codes. A run is followed from
 * the server's event and log streams (reconnecting with Last-Event-ID when the connection drops),
 * converted back into the engine's event and log shapes so the local reporters draw it.
 */
import type { EngineEvent, EngineLog, RunOutcome } from '../engine/types.ts';
import { RivetError } from '../errors.ts';
import { fromText } from '../model/inputs.ts';
import { Client, nameOf, RemoteError, seg } from './remote-client.ts';
import { followSse, outageNotes, type SseFrame } from './remote-sse.ts';
import { EXIT } from './main.ts';
import { type Io, paint, printable, printableLine } from './output.ts';
import { duration, type Reporter, type RunInfo, unitName } from './report.ts';
import { exitCode, gatherInputValues, makeReporter, printInputProblems } from './run.ts';
import { publicRun, stateMark, taskLine, when } from './runs.ts';

// ------------------------------------------------------------------------------ API shapes

/** A run as the API gives it (src/server/routes/runs.ts). */
interface ApiRun {
  readonly id: string;
  readonly workflow: string;
  readonly version: string;
  readonly state: 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';
  readonly trigger: string;
  readonly inputs: Record<string, unknown>;
  readonly parentRun: string | null;
  readonly parentTask: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly outputs: Record<string, unknown> | null;
  readonly error: string | null;
}

interface ApiTask {
  readonly task: string;
  readonly item: number | null;
  readonly kind: string | null;
  readonly status: string;
  readonly attempts: number;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly cached: string | null;
  readonly reason: string | null;
  readonly outputs: unknown;
}

interface ApiWorkflow {
  readonly name: string;
  readonly kind: 'tasks' | 'process';
  readonly inputs: Record<string, { readonly type: string }>;
  readonly dag: { readonly nodes: readonly { readonly id: string; readonly kind: string }[] };
}

interface ApiApproval {
  readonly runId: string;
  readonly task: string;
  readonly item: number | null;
  readonly message: string | null;
  readonly approvers: string[] | null;
  readonly fields: Record<string, { type?: string; default?: unknown }>;
  readonly canDecide: boolean;
}

interface ApiEvent {
  readonly seq: number;
  readonly type: string;
  readonly task: string | null;
  readonly item: number | null;
  readonly attempt: number | null;
  readonly at: string;
  readonly data: Record<string, unknown> | null;
}

interface ApiLog {
  readonly seq: number;
  readonly task: string;
  readonly item: number | null;
  readonly attempt: number;
  readonly stream: 'stdout' | 'stderr' | 'info';
  readonly at: string;
  readonly line: string;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));

/** A run in the local store's record shape, for the helpers of runs.ts. */
function asRecord(r: ApiRun): Parameters<typeof publicRun>[0] & { parentTask: string | null } {
  return {
    ...r,
    createdAt: Date.parse(r.createdAt),
    startedAt: ms(r.startedAt),
    finishedAt: ms(r.finishedAt),
  };
}

// ------------------------------------------------------------------------------ helpers

export interface RemoteOptions {
  readonly server?: string;
}

/** Options of the local mode that mean nothing to a server: refused rather than ignored. */
const LOCAL_ONLY: Readonly<Record<string, string>> = {
  home: '--home',
  plugin: '--plugin',
  var: '--var',
  varsFile: '--vars-file',
  secretsFile: '--secrets-file',
  concurrency: '--concurrency',
  killGrace: '--kill-grace',
  killGraceMs: '--kill-grace',
  dryRun: '--dry-run',
  as: '--as',
};

export function connect(opts: RemoteOptions & Record<string, unknown>): Client {
  for (const [key, flag] of Object.entries(LOCAL_ONLY)) {
    const v = opts[key];
    if (v === undefined || v === false || (Array.isArray(v) && v.length === 0)) continue;
    throw new RivetError('RV502', `${flag} works on the local store only, not with a server`, {
      hint:
        key === 'as'
          ? 'the server records the user of RIVET_TOKEN as the approver'
          : 'the server has its own settings; leave out --server and unset RIVET_SERVER for the local store',
    });
  }
  const client = Client.fromEnv(opts.server);
  if (client === undefined) throw new RivetError('RV502', 'no server: pass --server URL or set RIVET_SERVER');
  return client;
}

/** Rewrites a 404 as the local mode says it (`no run X`). */
async function orNotFound<T>(p: Promise<T>, code: 'RV602' | 'RV704', message: string, hint: string): Promise<T> {
  try {
    return await p;
  } catch (error) {
    if (error instanceof RemoteError && error.status === 404) throw new RivetError(code, message, { hint });
    throw error;
  }
}

async function getWorkflow(client: Client, name: string): Promise<ApiWorkflow> {
  return orNotFound(
    client.request<ApiWorkflow>('GET', `/v1/workflows/${seg(name)}`),
    'RV704',
    `no workflow ${name} on the server at ${client.url}`,
    'the server runs the workflows of its workflows folder and uploaded ones; GET /v1/workflows lists those you may see',
  );
}

/** A run by id, or by a unique prefix of one (looked up among recent runs). */
export async function resolveRun(client: Client, id: string): Promise<ApiRun> {
  const missing = (): RivetError =>
    new RivetError('RV602', `no run ${id}`, { hint: 'rivet runs list --server ... shows the runs' });
  if (!/^[a-z0-9]{1,40}$/.test(id)) throw missing();
  try {
    return await client.request<ApiRun>('GET', `/v1/runs/${seg(id)}`);
  } catch (error) {
    if (!(error instanceof RemoteError && error.status === 404)) throw error;
  }
  const found: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page++) {
    const q = new URLSearchParams({ children: 'true', limit: '200', ...(cursor === null ? {} : { cursor }) });
    const res: { items: ApiRun[]; next: string | null } = await client.request('GET', `/v1/runs?${q}`);
    for (const r of res.items) if (r.id.startsWith(id)) found.push(r.id);
    cursor = res.next;
    if (cursor === null) break;
  }
  if (found.length === 0) throw missing();
  if (found.length > 1) {
    throw new RivetError('RV602', `${id} matches several runs: ${found.join(', ')}`, { hint: 'give more characters' });
  }
  return client.request<ApiRun>('GET', `/v1/runs/${seg(found[0]!)}`);
}

const toEvent = (runId: string, e: ApiEvent): EngineEvent => ({
  runId,
  type: e.type,
  task: e.task,
  item: e.item,
  attempt: e.attempt,
  at: Date.parse(e.at),
  data: e.data,
});

const toLog = (runId: string, l: ApiLog): EngineLog => ({
  runId,
  task: l.task,
  item: l.item,
  attempt: l.attempt,
  stream: l.stream,
  at: Date.parse(l.at),
  line: l.line,
});

/** Every page of a run's log lines after `after` (JSON). */
async function* logPages(client: Client, runId: string, task: string | undefined, after = 0): AsyncGenerator<ApiLog[]> {
  let cursor: number | null = after;
  while (cursor !== null) {
    const q = new URLSearchParams({ after: String(cursor), limit: '5000', ...(task === undefined ? {} : { task }) });
    const page: { items: ApiLog[]; next: number | null } = await client.request(
      'GET',
      `/v1/runs/${seg(runId)}/logs?${q}`,
    );
    yield page.items;
    cursor = page.next;
  }
}

// ------------------------------------------------------------------------------ following a run

/**
 * Events and log lines come on two streams, each in order; the reporter should see them merged
 * by time, as the local engine reports them. Each record waits a moment (REORDER_MS) so a
 * record of the other stream with an earlier time can go before it.
 */
const REORDER_MS = 150;

class Merger {
  /** Per stream, in the order received (never reordered within a stream). */
  readonly #queues = new Map<string, { at: number; arrived: number; emit: () => void }[]>();
  #timer: NodeJS.Timeout | undefined;

  push(stream: string, at: number, emit: () => void): void {
    let queue = this.#queues.get(stream);
    if (queue === undefined) this.#queues.set(stream, (queue = []));
    queue.push({ at, arrived: Date.now(), emit });
    this.#arm();
  }

  #arm(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush(Date.now() - REORDER_MS);
    }, REORDER_MS / 3);
  }

  /** Emits the earliest head of all streams while it arrived before `before`. */
  flush(before = Infinity): void {
    for (;;) {
      let first: { at: number; arrived: number; emit: () => void }[] | undefined;
      for (const queue of this.#queues.values()) {
        if (queue.length > 0 && (first === undefined || queue[0]!.at < first[0]!.at)) first = queue;
      }
      if (first === undefined) return;
      if (first[0]!.arrived > before) break;
      first.shift()!.emit();
    }
    this.#arm();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
  }
}

/** Child runs followed live at most (each takes two of the token's event streams). */
const MAX_CHILD_STREAMS = 6;

interface FollowRun {
  readonly client: Client;
  readonly io: Io;
  readonly reporter: Reporter;
  readonly runId: string;
  readonly info: Omit<RunInfo, 'runId'>;
  /** The last event and log line already shown (a resumed run), or null for the start. */
  readonly eventsAfter: string | null;
  readonly logsAfter: string | null;
  /** Task kinds by id: approval tasks get a prompt on a terminal. */
  readonly kinds: ReadonlyMap<string, string>;
  readonly interactive: boolean;
}

/**
 * Follows a run to its end through the API: its events and log lines (and those of its child
 * runs, shown as `parent_task/child_task`) into the reporter. Ctrl-C asks the server to cancel
 * the run and keeps following; a second Ctrl-C stops following at once (exit 130).
 */
export async function followRun(f: FollowRun): Promise<RunOutcome> {
  const { client, reporter, runId } = f;
  const stop = new AbortController();
  const prefixes = new Map<string, string>();
  const followed = new Set<string>([runId]);
  const pending: Promise<unknown>[] = [];
  const prompts = new Map<string, AbortController>();
  let outage = 0;
  let failure: unknown;
  const down = (): void => {
    if (outage++ === 0) reporter.note(`lost the connection to ${client.url}; reconnecting`);
  };
  const up = (): void => {
    if (--outage === 0) reporter.note(`reconnected to ${client.url}`);
  };
  const prefixed = <T extends { runId: string; task: string | null }>(x: T): T => {
    const p = prefixes.get(x.runId);
    return p === undefined || x.task === null || x.task === '' ? x : { ...x, task: `${p}/${x.task}` };
  };
  /** A stream of the run itself fails the command; one of a child run is only noted. */
  const track = (p: Promise<unknown>, child: string | null): void => {
    pending.push(
      p.catch((error: unknown) => {
        if (child !== null) return reporter.note(`cannot follow child run ${child}: ${(error as Error).message}`);
        failure ??= error;
        stop.abort();
      }),
    );
  };

  const merger = new Merger();
  const onEvent = (id: string, e: EngineEvent): void => {
    merger.push(`${id}/events`, e.at, () => reporter.event(prefixed(e)));
    const state = e.data?.state as { child_run?: unknown } | undefined;
    if (e.type === 'task.checkpoint' && typeof state?.child_run === 'string' && !followed.has(state.child_run)) {
      if (followed.size > MAX_CHILD_STREAMS) return;
      const child = state.child_run;
      followed.add(child);
      const base = prefixes.get(id);
      const name = unitName(e.task, e.item);
      prefixes.set(child, base === undefined ? name : `${base}/${name}`);
      follow(child, null, null);
    }
    if (id === runId && f.interactive) promptFor(e);
  };

  const follow = (id: string, eventsAfter: string | null, logsAfter: string | null): void => {
    const stream = (path: string, after: string | null, onFrame: (frame: SseFrame) => void): void =>
      track(
        followSse({ client, path, lastEventId: after, onFrame, signal: stop.signal, onDown: down, onUp: up }),
        id === runId ? null : id,
      );
    stream(`/v1/runs/${seg(id)}/events`, eventsAfter, (frame) => {
      if (frame.event !== 'end') onEvent(id, toEvent(id, JSON.parse(frame.data) as ApiEvent));
    });
    stream(`/v1/runs/${seg(id)}/logs`, logsAfter, (frame) => {
      if (frame.event !== 'log') return;
      const l = toLog(id, JSON.parse(frame.data) as ApiLog);
      merger.push(`${id}/logs`, l.at, () => reporter.log(prefixed(l)));
    });
  };

  // On a terminal, an approval task of the run asks here too (as in the local mode); a decision
  // taken elsewhere (`rivet approve`, the web UI) withdraws the question.
  const ask = f.interactive
    ? (await import('./prompt.ts')).terminalPrompt(f.io, process.stdin, '', reporter)
    : undefined;
  const promptFor = (e: EngineEvent): void => {
    const key = unitName(e.task, e.item);
    if (e.type !== 'task.waiting') {
      if (e.task !== null && e.type.startsWith('task.') && e.type !== 'task.checkpoint') {
        prompts.get(key)?.abort();
        prompts.delete(key);
      }
      return;
    }
    if (ask === undefined || e.task === null || f.kinds.get(e.task) !== 'approval' || prompts.has(key)) return;
    const asking = new AbortController();
    prompts.set(key, asking);
    const task = e.task;
    const item = e.item;
    void (async () => {
      let pendingApproval: ApiApproval | undefined;
      // The approval is registered by the server right after the event: a few looks, bounded.
      for (let i = 0; i < 20 && pendingApproval === undefined && !asking.signal.aborted; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        const list = await client.request<{ items: ApiApproval[] }>('GET', '/v1/approvals?mine=true');
        pendingApproval = list.items.find((a) => a.runId === runId && a.task === task && a.item === item);
      }
      if (pendingApproval === undefined || asking.signal.aborted) return;
      const decision = await ask(
        {
          runId,
          task,
          item,
          deadline: null,
          ...(pendingApproval.message === null ? {} : { message: pendingApproval.message }),
          fields: pendingApproval.fields,
        },
        asking.signal,
      );
      if (decision === null || asking.signal.aborted) return;
      await client.request('POST', `/v1/runs/${seg(runId)}/approvals/${seg(task)}`, {
        body: {
          decision: decision.decision,
          comment: decision.comment,
          fields: decision.fields,
          ...(item === null ? {} : { item }),
        },
      });
    })().catch((error: unknown) => reporter.note(`approval of ${key}: ${(error as Error).message}`));
  };

  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      reporter.note('cancelling the run (Ctrl-C again to stop following it)');
      client
        .request('POST', `/v1/runs/${seg(runId)}/cancel`)
        .catch((error: unknown) => reporter.note(`cannot cancel: ${(error as Error).message}`));
    } else {
      reporter.note(`stopped following; the server goes on cancelling run ${runId}`);
      process.exit(EXIT.cancelled);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    reporter.start({ ...f.info, runId });
    follow(runId, f.eventsAfter, f.logsAfter);
    // Child streams join while the run goes on: wait until no stream is left.
    for (let done = 0; done < pending.length;) {
      const batch = pending.slice(done);
      await Promise.all(batch);
      done += batch.length;
    }
    merger.close();
    if (failure !== undefined) throw failure;
    return await outcomeOf(client, runId);
  } finally {
    merger.close();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    for (const p of prompts.values()) p.abort();
    stop.abort();
  }
}

/** The outcome of a run whose event stream has ended. */
async function outcomeOf(client: Client, runId: string): Promise<RunOutcome> {
  for (let i = 0; ; i++) {
    const run = await client.request<ApiRun>('GET', `/v1/runs/${seg(runId)}`);
    if (TERMINAL.has(run.state)) {
      return {
        runId,
        state: run.state as RunOutcome['state'],
        outputs: run.outputs,
        error: run.error,
      };
    }
    if (i >= 50) throw new RivetError('RV710', `the event stream of run ${runId} ended while the run is ${run.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ------------------------------------------------------------------------------ commands

export interface RemoteRunOptions extends RemoteOptions {
  readonly input?: readonly string[];
  readonly inputsFile?: string;
  readonly json?: boolean;
  readonly force?: readonly string[];
}

export async function runRemote(
  arg: string,
  opts: RemoteRunOptions & Record<string, unknown>,
  io: Io,
): Promise<number> {
  const client = connect(opts);
  const { name } = nameOf(arg);
  const workflow = await getWorkflow(client, name);
  if (workflow.kind === 'process') {
    throw new RivetError('RV604', `${name} describes a process, not tasks`, {
      hint: `rivet process start ${name} --server ${client.url}`,
    });
  }
  const inputs = gatherInputValues(workflow.inputs ?? {}, opts);
  const tasks = workflow.dag.nodes.map((n) => n.id);
  for (const force of opts.force ?? []) {
    if (!tasks.includes(force)) throw new RivetError('RV502', `--force ${force}: ${name} has no task ${force}`);
  }
  let run: ApiRun;
  try {
    run = await client.request<ApiRun>('POST', '/v1/runs', {
      body: { workflow: name, inputs, ...((opts.force ?? []).length === 0 ? {} : { force: opts.force }) },
    });
  } catch (error) {
    if (error instanceof RemoteError && error.code === 'RV601') {
      const details = error.body.details ?? [{ pointer: error.body.pointer ?? '', message: error.message }];
      printInputProblems(
        io,
        arg,
        details.map((d) => ({ name: d.pointer.split('/').pop() ?? '', pointer: d.pointer, message: d.message })),
      );
      return EXIT.invalid;
    }
    if (error instanceof RemoteError && error.status === 404) {
      throw new RivetError('RV704', `no workflow ${name} on the server at ${client.url}`);
    }
    throw error;
  }
  const reporter = await makeReporter(io, opts.json === true, tasks.length);
  const outcome = await followRun({
    client,
    io,
    reporter,
    runId: run.id,
    info: { workflow: name, tasks },
    eventsAfter: null,
    logsAfter: null,
    kinds: new Map(workflow.dag.nodes.map((n) => [n.id, n.kind])),
    interactive: io.stdout.isTTY === true && process.stdin.isTTY === true && opts.json !== true,
  });
  reporter.finish(outcome);
  return exitCode(outcome);
}

export async function listRemote(
  opts: RemoteOptions & { workflow?: string; state?: string; limit?: number; json?: boolean } & Record<string, unknown>,
  io: Io,
): Promise<number> {
  const client = connect(opts);
  const limit = opts.limit ?? 20;
  const runs: ApiRun[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ children: 'true', limit: String(Math.min(200, limit - runs.length)) });
    if (opts.workflow !== undefined) q.set('workflow', opts.workflow);
    for (const s of opts.state?.split(',') ?? []) if (s.trim() !== '') q.append('state', s.trim());
    if (cursor !== null) q.set('cursor', cursor);
    const page: { items: ApiRun[]; next: string | null } = await client.request('GET', `/v1/runs?${q}`);
    runs.push(...page.items);
    cursor = page.next;
  } while (cursor !== null && runs.length < limit);
  if (opts.json === true) {
    io.stdout.write(
      `${JSON.stringify(
        runs.map((r) => publicRun(asRecord(r))),
        null,
        2,
      )}\n`,
    );
    return EXIT.ok;
  }
  if (runs.length === 0) {
    io.stdout.write(`no runs on ${client.url}\n`);
    return EXIT.ok;
  }
  for (const run of runs) {
    const r = asRecord(run);
    const took = r.finishedAt !== null && r.startedAt !== null ? duration(r.finishedAt - r.startedAt) : '';
    io.stdout.write(`${r.id}  ${stateMark(io, r.state.padEnd(9))}  ${when(r.createdAt)}  ${r.workflow}  ${took}\n`);
  }
  return EXIT.ok;
}

export async function showRemote(
  id: string,
  opts: RemoteOptions & { json?: boolean } & Record<string, unknown>,
  io: Io,
): Promise<number> {
  const client = connect(opts);
  const found = await resolveRun(client, id);
  const full = await client.request<ApiRun & { tasks: ApiTask[]; children: ApiRun[] }>(
    'GET',
    `/v1/runs/${seg(found.id)}`,
  );
  const run = asRecord(full);
  const tasks = full.tasks.map((t) => ({ ...t, startedAt: ms(t.startedAt), finishedAt: ms(t.finishedAt) }));
  if (opts.json === true) {
    io.stdout.write(
      `${JSON.stringify({ ...publicRun(run), tasks, children: full.children.map((c) => c.id) }, null, 2)}\n`,
    );
    return EXIT.ok;
  }
  io.stdout.write(`run ${run.id}  ${stateMark(io, run.state)}\n`);
  io.stdout.write(`  workflow  ${run.workflow} (version ${run.version})\n  trigger   ${run.trigger}\n`);
  io.stdout.write(`  created   ${when(run.createdAt)}\n  finished  ${when(run.finishedAt)}\n`);
  if (Object.keys(run.inputs).length > 0) io.stdout.write(`  inputs    ${printable(JSON.stringify(run.inputs))}\n`);
  if (run.error !== null) io.stdout.write(`  error     ${printableLine(run.error)}\n`);
  io.stdout.write('tasks:\n');
  for (const t of tasks) io.stdout.write(`${taskLine(io, t)}\n`);
  for (const c of full.children) io.stdout.write(`child run ${c.id} (${c.parentTask}): ${c.state}\n`);
  if (run.outputs !== null) {
    io.stdout.write('outputs:\n');
    for (const [k, v] of Object.entries(run.outputs))
      io.stdout.write(`  ${k}: ${printable(JSON.stringify(v) ?? 'null')}\n`);
  }
  return EXIT.ok;
}

export async function logsRemote(
  id: string,
  opts: RemoteOptions & { task?: string; follow?: boolean; json?: boolean } & Record<string, unknown>,
  io: Io,
): Promise<number> {
  const client = connect(opts);
  const run = await resolveRun(client, id);
  const print = (l: ApiLog): void => {
    if (opts.json === true) io.stdout.write(`${JSON.stringify({ ...l, runId: run.id, at: Date.parse(l.at) })}\n`);
    else io.stdout.write(`${paint(io.stdout, 'gray', `${unitName(l.task, l.item)} |`)} ${printable(l.line)}\n`);
  };
  if (opts.follow !== true) {
    for await (const page of logPages(client, run.id, opts.task)) for (const l of page) print(l);
    return EXIT.ok;
  }
  const stop = new AbortController();
  await followSse({
    client,
    path: `/v1/runs/${seg(run.id)}/logs${opts.task === undefined ? '' : `?${new URLSearchParams({ task: opts.task })}`}`,
    signal: stop.signal,
    onFrame: (frame) => {
      if (frame.event === 'log') print(JSON.parse(frame.data) as ApiLog);
    },
    ...outageNotes((text) => io.stderr.write(`${text}\n`), client.url),
  });
  return EXIT.ok;
}

export async function resumeRemote(
  id: string,
  opts: RemoteOptions & { from?: string; json?: boolean } & Record<string, unknown>,
  io: Io,
): Promise<number> {
  const client = connect(opts);
  const run = await resolveRun(client, id);
  const { parseFrom } = await import('../engine/engine.ts');
  parseFrom(opts.from);
  const workflow = await getWorkflow(client, run.workflow).catch(() => undefined);
  const tasks = workflow?.dag.nodes.map((n) => n.id) ?? [];
  // What the run did so far: the live view starts from it, and the streams continue after it.
  const past = await client.request<{ items: ApiEvent[] }>('GET', `/v1/runs/${seg(run.id)}/events`);
  let lastLog = 0;
  for await (const page of logPages(client, run.id, undefined)) if (page.length > 0) lastLog = page.at(-1)!.seq;
  await client.request('POST', `/v1/runs/${seg(run.id)}/resume`, {
    body: opts.from === undefined ? {} : { from: opts.from },
  });
  const reporter = await makeReporter(io, opts.json === true, tasks.length);
  reporter.history?.(past.items.map((e) => toEvent(run.id, e)));
  const outcome = await followRun({
    client,
    io,
    reporter,
    runId: run.id,
    info: { workflow: run.workflow, tasks, resumed: true },
    eventsAfter: past.items.length === 0 ? null : String(past.items.at(-1)!.seq),
    logsAfter: lastLog === 0 ? null : String(lastLog),
    kinds: new Map(workflow?.dag.nodes.map((n) => [n.id, n.kind]) ?? []),
    interactive: io.stdout.isTTY === true && process.stdin.isTTY === true && opts.json !== true,
  });
  reporter.finish(outcome);
  return exitCode(outcome);
}

export async function cancelRemote(id: string, opts: RemoteOptions & Record<string, unknown>, io: Io): Promise<number> {
  const client = connect(opts);
  const run = await resolveRun(client, id);
  await client.request('POST', `/v1/runs/${seg(run.id)}/cancel`);
  // As locally, the command returns once the run has ended (its tasks get their kill grace).
  for (let i = 0; i < 600; i++) {
    const now = await client.request<ApiRun>('GET', `/v1/runs/${seg(run.id)}`);
    if (TERMINAL.has(now.state)) {
      io.stdout.write(`run ${run.id} ${now.state}\n`);
      return EXIT.ok;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  io.stdout.write(`asked the server to cancel run ${run.id}; it is still cancelling\n`);
  return EXIT.ok;
}

export async function approveRemote(
  id: string,
  unit: string,
  opts: RemoteOptions & { reject?: boolean; comment?: string; field?: readonly string[] } & Record<string, unknown>,
  io: Io,
): Promise<number> {
  const client = connect(opts);
  const m = /^([a-z_][a-z0-9_]*)(?:\[(\d+)\])?$/.exec(unit);
  if (m === null) throw new RivetError('RV502', `${unit}: expected TASK or TASK[INDEX]`);
  const task = m[1]!;
  const item = m[2] === undefined ? null : Number(m[2]);
  const run = await resolveRun(client, id);
  // The approval is listed once the server's engine asks for it, just after the task turns
  // `waiting`: a task that is waiting (or about to) gets a few more looks.
  let waiting: ApiApproval | undefined;
  for (let i = 0; waiting === undefined; i++) {
    const list = await client.request<{ items: ApiApproval[] }>('GET', '/v1/approvals');
    waiting = list.items.find((a) => a.runId === run.id && a.task === task && a.item === item);
    if (waiting !== undefined) break;
    const full = await client.request<{ state: string; tasks: ApiTask[] }>('GET', `/v1/runs/${seg(run.id)}`);
    const t = full.tasks.find((x) => x.task === task && x.item === item);
    const soon =
      t?.kind === 'approval' && (t.status === 'waiting' || t.status === 'running') && !TERMINAL.has(full.state);
    if (!soon || i >= 50) {
      throw new RivetError(
        'RV604',
        `${unit} in run ${run.id} is not waiting for approval${t === undefined ? '' : ` (it is ${t.status})`}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const fields: Record<string, unknown> = {};
  for (const pair of opts.field ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RivetError('RV502', `--field ${JSON.stringify(pair)}: expected name=value`);
    const name = pair.slice(0, eq);
    fields[name] = fromText(waiting.fields[name]?.type ?? 'string', pair.slice(eq + 1));
  }
  const decision = opts.reject === true ? 'reject' : 'approve';
  await client.request('POST', `/v1/runs/${seg(run.id)}/approvals/${seg(task)}`, {
    body: {
      decision,
      ...(opts.comment === undefined ? {} : { comment: opts.comment }),
      fields,
      ...(item === null ? {} : { item }),
    },
  });
  io.stdout.write(`${decision === 'reject' ? 'rejected' : 'approved'} ${unit} in run ${run.id}\n`);
  return EXIT.ok;
}
