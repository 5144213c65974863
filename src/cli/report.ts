/**
 * How `rivet run` reports a run: one line per event off a terminal (LineReporter), NDJSON with
 * `--json` (JsonReporter), and the live view on a terminal (live-view.ts). All of them get the
 * same calls: events once they are durable, log lines as they come, and the outcome.
 */
import type { EngineEvent, EngineLog, RunOutcome } from '../engine/types.ts';
import { type Io, paint, printable, printableLine } from './output.ts';

export interface RunInfo {
  readonly runId: string;
  readonly workflow: string;
  readonly tasks: readonly string[];
  readonly resumed?: boolean;
}

export interface Reporter {
  start(info: RunInfo): void;
  event(e: EngineEvent): void;
  log(l: EngineLog): void;
  /** A message from Rivet itself (warnings, "cancelling…"). */
  note(text: string): void;
  finish(outcome: RunOutcome): void;
  /** Events of the run from before this process (a resumed run), to show its state so far. */
  history?(events: readonly EngineEvent[]): void;
  /** Stops drawing while a prompt has the terminal. */
  pause?(): void;
  resume?(): void;
}

export const unitName = (task: string | null, item: number | null): string =>
  task === null ? '' : item === null ? task : `${task}[${item}]`;

let lastSecond = -1;
let lastClock = '';

/** HH:MM:SS of a time (UTC), computed once per second of output. */
function clock(at: number): string {
  const second = Math.floor(at / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastClock = new Date(at).toISOString().slice(11, 19);
  }
  return lastClock;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** One line per event, for logs and pipes. Control characters from task output are escaped. */
export class LineReporter implements Reporter {
  readonly #io: Io;
  readonly #started = new Map<string, number>();
  #runStarted = 0;
  readonly #out = new BufferedWriter();

  constructor(io: Io) {
    this.#io = io;
    this.#out.target = io.stdout;
  }

  #write(line: string): void {
    this.#out.write(`${line}\n`);
  }

  start(info: RunInfo): void {
    this.#runStarted = Date.now();
    this.#write(
      `run ${info.runId} ${info.resumed === true ? 'resumed' : 'started'}: ${info.workflow} (${info.tasks.length} tasks)`,
    );
  }

  event(e: EngineEvent): void {
    const name = unitName(e.task, e.item);
    const d = e.data ?? {};
    const t = clock(e.at);
    const o = this.#io.stdout;
    switch (e.type) {
      case 'task.started':
        this.#started.set(name, e.at);
        this.#write(
          `${t} ${paint(o, 'cyan', '▶')} ${name} started${e.attempt !== null && e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`,
        );
        return;
      case 'task.waiting':
        this.#write(`${t} ${paint(o, 'yellow', '…')} ${name} waiting`);
        return;
      case 'task.succeeded': {
        const took = this.#started.has(name) ? ` in ${duration(e.at - this.#started.get(name)!)}` : '';
        const cached =
          d.cached !== undefined && d.cached !== null ? ` (cached from run ${(d.cached as { run: string }).run})` : '';
        this.#write(`${t} ${paint(o, 'green', '✓')} ${name} succeeded${took}${cached}`);
        return;
      }
      case 'task.failed': {
        const err = d.error as { message?: string } | undefined;
        const retry = typeof d.retry_at === 'number' ? `; retry in ${duration(d.retry_at - e.at)}` : '';
        this.#write(`${t} ${paint(o, 'red', '✗')} ${name} failed: ${printableLine(err?.message ?? 'failed')}${retry}`);
        return;
      }
      case 'task.skipped':
        this.#write(`${t} ${paint(o, 'gray', '○')} ${name} skipped (${printableLine(String(d.reason ?? ''))})`);
        return;
      case 'task.cancelled':
        this.#write(`${t} ${paint(o, 'gray', '■')} ${name} cancelled`);
        return;
      case 'task.interrupted':
        this.#write(`${t} ${paint(o, 'yellow', '↻')} ${name} was running when the engine stopped; it runs again`);
        return;
      case 'task.expanded':
        this.#write(`${t}   ${name} fans out over ${(d.items as unknown[]).length} items`);
        return;
      case 'run.cancelling':
        this.#write(`${t} cancelling: ${printableLine(String(d.reason ?? ''))}`);
        return;
      default:
        return;
    }
  }

  log(l: EngineLog): void {
    const name = unitName(l.task, l.item);
    const prefix = name === '' ? '' : `${paint(this.#io.stdout, 'gray', `${name} |`)} `;
    this.#write(`${prefix}${printable(l.line)}`);
  }

  note(text: string): void {
    this.#out.flush();
    this.#io.stderr.write(`${text}\n`);
  }

  finish(outcome: RunOutcome): void {
    this.#write(summaryLine(this.#io, outcome, Date.now() - this.#runStarted));
    this.#out.flush();
    printOutputs(this.#io, outcome);
  }
}

/**
 * Lines written within one tick go out as one write: a 10,000-task run prints 20,000 lines, and
 * one system call per line would cost more than running the tasks.
 */
export class BufferedWriter {
  target: Io['stdout'] | undefined;
  #chunks: string[] = [];
  #scheduled = false;

  write(text: string): void {
    this.#chunks.push(text);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#chunks.length === 0) return;
    const text = this.#chunks.join('');
    this.#chunks = [];
    this.target?.write(text);
  }
}

export function summaryLine(io: Io, outcome: RunOutcome, ms: number): string {
  const o = io.stdout;
  const mark =
    outcome.state === 'succeeded'
      ? paint(o, 'green', '✓')
      : outcome.state === 'failed'
        ? paint(o, 'red', '✗')
        : paint(o, 'yellow', '■');
  const err = outcome.error === null ? '' : `: ${printableLine(outcome.error)}`;
  return `${mark} run ${outcome.runId} ${outcome.state} in ${duration(ms)}${err}`;
}

export function printOutputs(io: Io, outcome: RunOutcome): void {
  if (outcome.outputs === null || Object.keys(outcome.outputs).length === 0) return;
  io.stdout.write('outputs:\n');
  for (const [k, v] of Object.entries(outcome.outputs))
    io.stdout.write(`  ${k}: ${printable(JSON.stringify(v) ?? 'null')}\n`);
}

/** NDJSON: one object per event, log line and outcome (`--json`). */
export class JsonReporter implements Reporter {
  readonly #out = new BufferedWriter();

  constructor(io: Io) {
    this.#out.target = io.stdout;
  }

  #write(v: unknown): void {
    this.#out.write(`${jsonLine(v)}\n`);
  }

  start(info: RunInfo): void {
    this.#write({
      type: info.resumed === true ? 'cli.resumed' : 'cli.started',
      run: info.runId,
      workflow: info.workflow,
      tasks: info.tasks,
    });
  }

  event(e: EngineEvent): void {
    this.#write({
      type: e.type,
      run: e.runId,
      task: e.task,
      item: e.item,
      attempt: e.attempt,
      at: new Date(e.at).toISOString(),
      data: e.data,
    });
  }

  log(l: EngineLog): void {
    this.#write({
      type: 'log',
      run: l.runId,
      task: l.task,
      item: l.item,
      attempt: l.attempt,
      stream: l.stream,
      at: new Date(l.at).toISOString(),
      line: l.line,
    });
  }

  note(text: string): void {
    this.#write({ type: 'note', text });
  }

  finish(outcome: RunOutcome): void {
    this.#write({
      type: 'cli.finished',
      run: outcome.runId,
      state: outcome.state,
      outputs: outcome.outputs,
      error: outcome.error,
    });
    this.#out.flush();
  }
}

/** JSON with DEL and the C1 controls escaped too (JSON.stringify leaves U+007F–U+009F raw). */
export function jsonLine(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
