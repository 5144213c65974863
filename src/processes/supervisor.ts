/**
 * The process supervisor of `rivet server`: runs the long-lived commands of process files
 * (DESIGN.md section 3), each in its own process group, keeps their recent output, probes their
 * readiness, restarts them by policy and stops them with their stop signal, a grace period, then
 * SIGKILL to the whole group.
 *
 * The desired state and the group of each start (its id and the leader's start time) are written
 * to the server's store right after spawning, so after a server crash `recover()` can kill what
 * the dead server left running (the same pid + start time check as shell tasks, RELIABILITY.md C4)
 * and start again the processes that should run.
 *
 * Operations on one process (start, stop, restart, remove and the automatic restarts) run one at a
 * time, in order; the end of a run is handled outside that queue, so that a stop can wait for it.
 */
import type { ChildProcess } from 'node:child_process';
import { cutLine, defaultChildEnv, safe } from '../engine/support.ts';
import { groupAlive, killGroup, processStartTime, staleGroupAlive, waitGroupGone } from '../kinds/process-group.ts';
import type { ProcessState, ServerData } from '../store/server-types.ts';
import { type ExitStatus, launch, type Launched, LaunchError, type Output, readLines } from './child.ts';
import { LogRing, type ProcessLogLine } from './log-ring.ts';
import { Waker, waitForReady } from './readiness.ts';
import { afterExit, type ProcessSpec, type ResolvedProcess, resolveProcess, STABLE_UPTIME_MS } from './spec.ts';

export type { ProcessLogLine, ProcessLogStream } from './log-ring.ts';
export type { ProcessSpec } from './spec.ts';

export const PROCESS_STATUSES = [
  'stopped',
  'starting',
  'ready',
  'running',
  'stopping',
  'backoff',
  'exited',
  'failed',
] as const;
/**
 * `running`: alive, no readiness probe. `ready`: alive and the probe passed. `starting`: alive, the
 * probe has not passed yet. `backoff`: waiting to restart. `exited`: ended with code 0, not
 * restarting. `failed`: ended otherwise (or was not ready in time), not restarting.
 */
export type ProcessStatus = (typeof PROCESS_STATUSES)[number];
export type DesiredState = ProcessState['desired'];

export interface ProcessInfo {
  readonly name: string;
  readonly status: ProcessStatus;
  /** The group leader's pid (also the group id) while a run is alive. */
  readonly pid: number | null;
  readonly startedAt: number | null;
  readonly readyAt: number | null;
  /** Automatic restarts since the last start asked for (start, restart, recover). */
  readonly restarts: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly lastError: string | null;
  readonly desired: DesiredState;
  readonly file: string;
  readonly version: string;
}

export interface ProcessDefinition {
  /** The process file; `cwd` is relative to its folder. */
  readonly file: string;
  readonly version: string;
  /** The validated `process:` field of the file. */
  readonly spec: ProcessSpec;
}

export interface ProcessListener {
  log?(line: ProcessLogLine): void;
  status?(info: ProcessInfo): void;
}

/** The part of the server's store the supervisor uses. */
export type ProcessData = Pick<ServerData, 'getProcess' | 'listProcesses' | 'putProcess'>;

export interface SupervisorOptions {
  /** Where desired states and process groups are kept across server restarts. */
  readonly data: ProcessData;
  /** Applied to every kept line (output and the supervisor's own notes). Default: lines kept as is. */
  readonly redact?: (line: string) => string;
  /** Base environment of every process. Default: this process's, without RIVET_SECRET_* and RIVET_TOKEN. */
  readonly env?: Readonly<Record<string, string>>;
  /** Lines of output kept per process. Default 1000. */
  readonly logLines?: number;
  /** Wall clock for timestamps, in ms. Default Date.now. */
  readonly now?: () => number;
}

/** After SIGKILL, how long to wait for a group to vanish (a process stuck in the kernel). */
const KILL_WAIT_MS = 10_000;
/** After the leader exits, how long to keep reading output still buffered in the pipes. */
const DRAIN_MS = 1_000;

interface Run {
  readonly child: ChildProcess;
  readonly pgid: number;
  readonly config: ResolvedProcess;
  readonly startedAt: number;
  /** Aborted when the run ends: stops the readiness probes. */
  readonly probe: AbortController;
  readonly waker: Waker;
  logMatched: boolean;
  /** Set by a stop: the end of the run is neither a failure nor a reason to restart. */
  stopping: boolean;
  /** Why the supervisor itself ended the run (readiness timeout), which makes it a failure. */
  failure: string | undefined;
  /** Settles once the end of the run has been handled. */
  done: Promise<void>;
}

interface Entry {
  readonly name: string;
  def: ProcessDefinition;
  config: ResolvedProcess;
  status: ProcessStatus;
  desired: DesiredState;
  run: Run | undefined;
  startedAt: number | null;
  readyAt: number | null;
  restarts: number;
  /** Restarts since the last run that stayed up STABLE_UPTIME_MS: drives backoff and max_restarts. */
  inRow: number;
  exitCode: number | null;
  signal: string | null;
  lastError: string | null;
  timer: NodeJS.Timeout | undefined;
  queue: Promise<unknown>;
  readonly logs: LogRing;
  readonly listeners: Set<{ readonly listener: ProcessListener }>;
}

export class Supervisor {
  readonly #data: ProcessData;
  readonly #redact: (line: string) => string;
  readonly #env: Readonly<Record<string, string>>;
  readonly #logLines: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: SupervisorOptions) {
    this.#data = options.data;
    this.#redact = options.redact ?? ((line) => line);
    this.#env = Object.freeze({ ...(options.env ?? defaultChildEnv()) });
    this.#logLines = options.logLines ?? 1000;
    this.#now = options.now ?? Date.now;
    new LogRing(this.#logLines); // rejects a bad size now rather than at the first define
  }

  /** Registers a process, or replaces its definition (a running process gets it at its next start). */
  define(name: string, def: ProcessDefinition): void {
    const config = resolveProcess(def.file, def.spec);
    const entry = this.#entries.get(name);
    if (entry !== undefined) {
      entry.def = def;
      entry.config = config;
      return;
    }
    this.#entries.set(name, {
      name,
      def,
      config,
      status: 'stopped',
      desired: this.#data.getProcess(name)?.desired ?? 'stopped',
      run: undefined,
      startedAt: null,
      readyAt: null,
      restarts: 0,
      inRow: 0,
      exitCode: null,
      signal: null,
      lastError: null,
      timer: undefined,
      queue: Promise.resolve(),
      logs: new LogRing(this.#logLines, this.#now() * 1000),
      listeners: new Set(),
    });
  }

  /** Stops the process (desired state `stopped`) and forgets it. */
  async remove(name: string): Promise<void> {
    const entry = this.#entry(name);
    await this.#serial(entry, () => this.#halt(entry, 'stopped'));
    if (this.#entries.get(name) === entry) this.#entries.delete(name);
    entry.listeners.clear();
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  list(): ProcessInfo[] {
    return [...this.#entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((e) => this.#info(e));
  }

  get(name: string): ProcessInfo | undefined {
    const entry = this.#entries.get(name);
    return entry === undefined ? undefined : this.#info(entry);
  }

  /** Starts the process (desired state `running`); resolves once spawned, not once ready. */
  async start(name: string): Promise<ProcessInfo> {
    const entry = this.#entry(name);
    return this.#serial(entry, async () => {
      if (entry.run === undefined) await this.#startNow(entry);
      return this.#info(entry);
    });
  }

  /** Stops the process (desired state `stopped`); resolves once no process of its group is left. */
  async stop(name: string): Promise<ProcessInfo> {
    const entry = this.#entry(name);
    return this.#serial(entry, async () => {
      await this.#halt(entry, 'stopped');
      return this.#info(entry);
    });
  }

  async restart(name: string): Promise<ProcessInfo> {
    const entry = this.#entry(name);
    return this.#serial(entry, async () => {
      await this.#halt(entry, null);
      await this.#startNow(entry);
      return this.#info(entry);
    });
  }

  /**
   * Resolves once the process is `ready` (or `running`, without a probe); rejects when it ends up
   * stopped, exited or failed instead, or after `timeoutMs`.
   */
  async waitReady(name: string, timeoutMs: number): Promise<ProcessInfo> {
    const entry = this.#entry(name);
    return new Promise((resolve, reject) => {
      const outcome = (): ProcessInfo | Error | undefined => {
        const info = this.#info(entry);
        if (info.status === 'ready' || info.status === 'running') return info;
        if (info.status === 'stopped' || info.status === 'exited' || info.status === 'failed') {
          const why = info.lastError === null ? '' : `: ${info.lastError}`;
          return new Error(`process "${name}" is ${info.status}${why}`);
        }
        return undefined;
      };
      const settle = (result: ProcessInfo | Error): void =>
        result instanceof Error ? reject(result) : resolve(result);
      const now = outcome();
      if (now !== undefined) return settle(now);
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`process "${name}" is not ready after ${timeoutMs} ms (status ${entry.status})`));
      }, timeoutMs);
      const unsubscribe = this.subscribe(name, {
        status: () => {
          const result = outcome();
          if (result === undefined) return;
          clearTimeout(timer);
          unsubscribe();
          settle(result);
        },
      });
    });
  }

  /**
   * Kept lines with a sequence number above `afterSeq`, oldest first, at most `limit`; without
   * `afterSeq`, the newest `limit` lines. An unknown process has none.
   */
  logs(name: string, afterSeq?: number, limit?: number): ProcessLogLine[] {
    return this.#entries.get(name)?.logs.read(afterSeq, limit) ?? [];
  }

  /** Live lines and status changes; returns the unsubscribe function. A throwing listener is ignored. */
  subscribe(name: string, listener: ProcessListener): () => void {
    const slot = { listener };
    const { listeners } = this.#entry(name);
    listeners.add(slot);
    return () => void listeners.delete(slot);
  }

  /**
   * After a server crash: kills every group a previous server recorded that is still alive, then
   * starts the defined processes whose desired state is `running`. Call once, after `define`.
   */
  async recover(): Promise<void> {
    const states = this.#data.listProcesses();
    await Promise.all(states.map((state) => this.#killLeftover(state)));
    await Promise.all(
      states
        .filter((state) => state.desired === 'running' && this.#entries.has(state.name))
        .map((state) => this.start(state.name)),
    );
  }

  /** Server shutdown: stops every process, in parallel, keeping desired states for the next start. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#entries.values()].map((entry) => this.#serial(entry, () => this.#halt(entry, null))));
  }

  // -------------------------------------------------------------------------------------------
  // Starting, and what happens when a run ends.

  async #startNow(entry: Entry): Promise<void> {
    this.#cancelTimer(entry);
    entry.desired = 'running';
    entry.restarts = 0;
    entry.inRow = 0;
    entry.lastError = null;
    await this.#spawn(entry);
  }

  async #spawn(entry: Entry): Promise<void> {
    const config = entry.config;
    const startedAt = this.#now();
    entry.readyAt = null;
    entry.exitCode = null;
    entry.signal = null;
    let launched: Launched;
    try {
      launched = await launch(config, this.#env);
    } catch (err) {
      if (!(err instanceof LaunchError)) throw err;
      this.#line(entry, 'info', `cannot start: ${err.message}`);
      this.#persist(entry, null);
      this.#settle(entry, true, err.message, 0);
      return;
    }
    const { child, pgid, exited } = launched;
    const run: Run = {
      child,
      pgid,
      config,
      startedAt,
      probe: new AbortController(),
      waker: new Waker(),
      logMatched: false,
      stopping: false,
      failure: undefined,
      done: Promise.resolve(),
    };
    entry.run = run;
    entry.startedAt = startedAt;
    const output = this.#pipeOutput(entry, run);
    run.done = this.#watchExit(entry, run, exited, output);
    this.#line(entry, 'info', `started, pid ${run.pgid}`);
    if (!this.#persist(entry, run.pgid)) {
      // Unrecorded, the group could outlive a crash unseen: end it rather than run untracked.
      run.failure = 'cannot record the process group in the store';
      killGroup(run.pgid, 'SIGKILL');
    }
    this.#setStatus(entry, config.ready === null ? 'running' : 'starting');
    if (config.ready !== null) void this.#watchReady(entry, run);
  }

  async #watchReady(entry: Entry, run: Run): Promise<void> {
    const check = run.config.ready!;
    const outcome = await waitForReady(check, {
      signal: run.probe.signal,
      logMatched: () => run.logMatched,
      waker: run.waker,
    });
    if (outcome === 'aborted' || entry.run !== run || run.stopping) return;
    if (outcome === 'ready') {
      entry.readyAt = this.#now();
      this.#line(entry, 'info', 'ready');
      this.#setStatus(entry, 'ready');
      return;
    }
    run.failure = `not ready after ${formatMs(check.timeoutMs)}`;
    this.#line(entry, 'info', `${run.failure}: killing the process group`);
    killGroup(run.pgid, 'SIGKILL');
  }

  async #watchExit(entry: Entry, run: Run, exited: Promise<ExitStatus>, output: Output): Promise<void> {
    const { code, signal } = await exited;
    run.probe.abort();
    // What the leader left in the background would hold the pipes and outlive the run; a stop
    // handles the group itself, with the grace period.
    if (!run.stopping) await reapGroup(run.pgid);
    await output.drain(DRAIN_MS);
    output.close();
    entry.run = undefined;
    entry.exitCode = code;
    entry.signal = signal;
    this.#persist(entry, null);
    if (run.stopping) return;
    const failed = run.failure !== undefined || code !== 0;
    const reason = run.failure ?? (failed ? describeExit(code, signal) : null);
    this.#line(entry, 'info', describeExit(code, signal));
    this.#settle(entry, failed, reason, this.#now() - run.startedAt);
  }

  #settle(entry: Entry, failed: boolean, reason: string | null, uptimeMs: number): void {
    if (uptimeMs >= STABLE_UPTIME_MS) entry.inRow = 0;
    entry.lastError = reason;
    const next = afterExit(entry.config.restart, failed, entry.inRow);
    switch (next.action) {
      case 'restart':
        this.#line(entry, 'info', `restarting in ${formatMs(next.delayMs)}`);
        this.#schedule(entry, next.delayMs);
        this.#setStatus(entry, 'backoff');
        return;
      case 'gave_up':
        entry.lastError = `${reason ?? 'exited with code 0'}; gave up after ${entry.inRow} restarts in a row`;
        this.#line(entry, 'info', entry.lastError);
        this.#setStatus(entry, 'failed');
        return;
      case 'exited':
      case 'failed':
        this.#setStatus(entry, next.action);
        return;
    }
  }

  #schedule(entry: Entry, delayMs: number): void {
    const timer = setTimeout(() => {
      void this.#serial(entry, async () => {
        // A stop, start or remove since then cancelled this restart.
        if (entry.timer !== timer) return;
        entry.timer = undefined;
        if (entry.run !== undefined || entry.desired !== 'running' || this.#entries.get(entry.name) !== entry) return;
        entry.restarts++;
        entry.inRow++;
        await this.#spawn(entry);
      }).catch(() => {});
    }, delayMs);
    entry.timer = timer;
  }

  #cancelTimer(entry: Entry): void {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Stopping.

  /** Ends the current run, if any, and any pending restart; `desired` null keeps the desired state. */
  async #halt(entry: Entry, desired: DesiredState | null): Promise<void> {
    const pending = entry.timer !== undefined || entry.status === 'backoff';
    this.#cancelTimer(entry);
    if (desired !== null) entry.desired = desired;
    const run = entry.run;
    if (run !== undefined) {
      run.stopping = true;
      run.probe.abort();
      this.#setStatus(entry, 'stopping');
      const { signal, graceMs } = run.config.stop;
      this.#line(entry, 'info', `stopping with ${signal}`);
      if (killGroup(run.pgid, signal)) {
        const gone = signal !== 'SIGKILL' && (await waitGroupGone(run.pgid, graceMs));
        if (!gone) {
          if (signal !== 'SIGKILL') this.#line(entry, 'info', `still running after ${formatMs(graceMs)}: SIGKILL`);
          killGroup(run.pgid, 'SIGKILL');
          await waitGroupGone(run.pgid, KILL_WAIT_MS);
        }
      }
      await run.done;
      // The run may have ended on its own while the stop began, and scheduled a restart.
      this.#cancelTimer(entry);
    }
    this.#persist(entry, null);
    if (run !== undefined || pending || desired === 'stopped') {
      if (run !== undefined) this.#line(entry, 'info', 'stopped');
      this.#setStatus(entry, 'stopped');
    }
  }

  /** Kills a group a previous server left running: gently when its definition is known. */
  async #killLeftover(state: ProcessState): Promise<void> {
    if (state.pgid === null) return;
    const entry = this.#entries.get(state.name);
    if (entry?.run?.pgid === state.pgid) return; // this supervisor's own run
    const startTime = state.pidStart === null ? null : Number(state.pidStart);
    try {
      if (staleGroupAlive(state.pgid, Number.isSafeInteger(startTime) ? startTime : null)) {
        if (entry !== undefined)
          this.#line(entry, 'info', `stopping process group ${state.pgid} left by a previous server`);
        const { signal, graceMs } = entry?.config.stop ?? { signal: 'SIGKILL' as const, graceMs: 0 };
        killGroup(state.pgid, signal);
        if (signal === 'SIGKILL' || !(await waitGroupGone(state.pgid, graceMs))) {
          killGroup(state.pgid, 'SIGKILL');
          await waitGroupGone(state.pgid, KILL_WAIT_MS);
        }
      }
    } catch (err) {
      if (!(err instanceof RangeError)) throw err; // a group id this server may not signal: left alone
    }
    try {
      this.#data.putProcess({ ...state, pgid: null, pidStart: null }, this.#now());
    } catch {
      // recorded again at the next start
    }
  }

  // -------------------------------------------------------------------------------------------
  // Output, state and listeners.

  #pipeOutput(entry: Entry, run: Run): Output {
    const pattern = run.config.ready?.log ?? null;
    return readLines(run.child, (stream, text) => {
      if (pattern !== null && !run.logMatched && pattern.test(text)) {
        run.logMatched = true;
        run.waker.wake();
      }
      this.#line(entry, stream, text);
    });
  }

  #line(entry: Entry, stream: ProcessLogLine['stream'], text: string): void {
    const line = entry.logs.push(this.#now(), stream, cutLine(this.#redact(text)));
    for (const { listener } of entry.listeners) safe(() => listener.log?.(line));
  }

  #setStatus(entry: Entry, status: ProcessStatus): void {
    entry.status = status;
    const info = this.#info(entry);
    for (const { listener } of entry.listeners) safe(() => listener.status?.(info));
  }

  /** Records the desired state and the current group; false when the store refused it. */
  #persist(entry: Entry, pgid: number | null): boolean {
    const startTime = pgid === null ? null : processStartTime(pgid);
    try {
      this.#data.putProcess(
        { name: entry.name, desired: entry.desired, pgid, pidStart: startTime === null ? null : String(startTime) },
        this.#now(),
      );
      return true;
    } catch (err) {
      this.#line(entry, 'info', `cannot record the process state: ${(err as Error).message}`);
      return false;
    }
  }

  #info(entry: Entry): ProcessInfo {
    return Object.freeze({
      name: entry.name,
      status: entry.status,
      pid: entry.run?.pgid ?? null,
      startedAt: entry.startedAt,
      readyAt: entry.readyAt,
      restarts: entry.restarts,
      exitCode: entry.exitCode,
      signal: entry.signal,
      lastError: entry.lastError === null ? null : this.#redact(entry.lastError),
      desired: entry.desired,
      file: entry.def.file,
      version: entry.def.version,
    });
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new Error(`unknown process "${name}"`);
    return entry;
  }

  #serial<T>(entry: Entry, fn: () => Promise<T>): Promise<T> {
    const result = entry.queue.then(fn);
    entry.queue = result.catch(() => {});
    return result;
  }
}

async function reapGroup(pgid: number): Promise<void> {
  if (!groupAlive(pgid)) return;
  killGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, KILL_WAIT_MS);
}

function describeExit(code: number | null, signal: string | null): string {
  return code !== null ? `exited with code ${code}` : `killed by ${signal ?? 'a signal'}`;
}

function formatMs(ms: number): string {
  return ms < 1000 || ms % 1000 !== 0 ? `${ms} ms` : `${ms / 1000} s`;
}
