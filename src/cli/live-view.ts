/**
 * The live view of `rivet run` on a terminal: a block of lines (header, one line per task,
 * footer) redrawn in place on a timer. It never flickers: each frame is one write, wrapped in
 * synchronized-output markers, that moves the cursor up over the previous frame and rewrites
 * each line after clearing it (never the whole screen). Big DAGs show running, waiting and failed
 * tasks first and summarize the rest in one line. Text from tasks (names, log lines, errors) goes
 * through `printable()`, so task output cannot move the cursor or rewrite the view.
 */
import type { styleText } from 'node:util';
import type { EngineEvent, EngineLog, RunOutcome } from '../engine/types.ts';
import { type Io, paint, printable } from './output.ts';
import { duration, printOutputs, type Reporter, type RunInfo, summaryLine, unitName } from './report.ts';

export type Style = Parameters<typeof styleText>[0];
/** Colours a piece of text; the identity for plain frames. */
export type Colour = (style: Style, text: string) => string;

export type RowState =
  'pending' | 'running' | 'waiting' | 'retrying' | 'interrupted' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

/** One line of the view: a task, a for_each item (`task[3]`) or a child run's task (`parent/child`). */
export interface Row {
  readonly name: string;
  state: RowState;
  attempt: number;
  startedAt: number | null;
  endedAt: number | null;
  lastLog: string | null;
  /** Error message, skip reason, "cached from run X". */
  detail: string | null;
  retryAt: number | null;
  /** The item rows of a for_each task once it has fanned out; its state is theirs. */
  children: Row[] | null;
}

export interface ViewState {
  workflow: string;
  runId: string;
  startedAt: number;
  rows: Row[];
  readonly byName: Map<string, Row>;
  cancelling: string | null;
  /** The last frame: no footer. */
  finished: boolean;
}

export const SYNC_START = '\x1b[?2026h';
export const SYNC_END = '\x1b[?2026l';
export const HIDE_CURSOR = '\x1b[?25l';
export const SHOW_CURSOR = '\x1b[?25h';
const CLEAR_LINE = '\x1b[2K';
const CLEAR_BELOW = '\x1b[J';
/** A log line is kept this long at most: the view shows one terminal line of it. */
const MAX_LOG_CHARS = 1000;
const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
/** Lines kept free below the block (the shell prompt, a line the terminal may scroll). */
const MARGIN = 1;
const STATE_ORDER: readonly RowState[] = [
  'running',
  'waiting',
  'retrying',
  'interrupted',
  'failed',
  'pending',
  'succeeded',
  'skipped',
  'cancelled',
];
const STATE_STYLE: Readonly<Record<RowState, Style>> = {
  pending: 'dim',
  running: 'cyan',
  waiting: 'yellow',
  retrying: 'yellow',
  interrupted: 'yellow',
  succeeded: 'green',
  failed: 'red',
  skipped: 'gray',
  cancelled: 'gray',
};
const SYMBOL: Readonly<Record<RowState, string>> = {
  pending: '·',
  running: '▶',
  waiting: '…',
  retrying: '↻',
  interrupted: '↻',
  succeeded: '✓',
  failed: '✗',
  skipped: '○',
  cancelled: '■',
};
const ACTIVE: ReadonlySet<RowState> = new Set(['running', 'waiting', 'retrying', 'interrupted']);
const plain: Colour = (_style, text) => text;

export function newRow(name: string): Row {
  return {
    name,
    state: 'pending',
    attempt: 0,
    startedAt: null,
    endedAt: null,
    lastLog: null,
    detail: null,
    retryAt: null,
    children: null,
  };
}

export function newViewState(): ViewState {
  return {
    workflow: '',
    runId: '',
    startedAt: 0,
    rows: [],
    byName: new Map(),
    cancelling: null,
    finished: false,
  };
}

// ------------------------------------------------------------------------- text measuring

/** Columns a code point takes: 0 for combining marks, 2 for wide (CJK, emoji), else 1. */
function charWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** The longest prefix of `s` that fits in `max` columns. */
function cutTo(s: string, max: number): string {
  let w = 0;
  let out = '';
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > max) break;
    w += cw;
    out += ch;
  }
  return out;
}

/** Task text made safe for one line: control characters escaped, tabs and newlines as spaces. */
export function oneLine(text: string): string {
  return printable(text).replace(/[\t\n]/g, ' ');
}

interface Segment {
  readonly text: string;
  readonly style?: Style;
}

/** Joins coloured segments, cut (with "…") so the visible text fits in `width` columns. */
function fit(segments: readonly Segment[], width: number, colour: Colour): string {
  const total = segments.reduce((n, s) => n + textWidth(s.text), 0);
  let room = total <= width ? Infinity : Math.max(0, width - 1);
  let out = '';
  for (const s of segments) {
    if (room <= 0) break;
    const text = textWidth(s.text) <= room ? s.text : `${cutTo(s.text, room)}…`;
    room -= textWidth(s.text);
    if (text !== '') out += s.style === undefined ? text : colour(s.style, text);
  }
  return out;
}

// ------------------------------------------------------------------------- rendering

/** What a row shows: its own state, or its items' for a for_each task. */
interface Shown {
  readonly state: RowState;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly detail: string | null;
}

function groupState(children: readonly Row[]): RowState {
  const has = (s: RowState): boolean => children.some((c) => c.state === s);
  if (children.some((c) => c.state === 'running' || c.state === 'interrupted')) return 'running';
  if (has('retrying')) return 'retrying';
  if (has('waiting')) return 'waiting';
  if (has('pending')) return children.every((c) => c.state === 'pending') ? 'pending' : 'running';
  if (has('failed')) return 'failed';
  if (has('cancelled')) return 'cancelled';
  if (children.length > 0 && children.every((c) => c.state === 'skipped')) return 'skipped';
  return 'succeeded';
}

function shown(row: Row): Shown {
  const children = row.children;
  if (children === null || children.length === 0) return row;
  const done = children.filter((c) => !ACTIVE.has(c.state) && c.state !== 'pending').length;
  const failed = children.filter((c) => c.state === 'failed').length;
  const starts = children.flatMap((c) => (c.startedAt === null ? [] : [c.startedAt]));
  const ends = children.flatMap((c) => (c.endedAt === null ? [] : [c.endedAt]));
  const state = groupState(children);
  const n = children.length;
  return {
    state,
    startedAt: starts.length === 0 ? null : Math.min(...starts),
    endedAt: ACTIVE.has(state) || state === 'pending' || ends.length === 0 ? null : Math.max(...ends),
    detail: `${count(done)}/${count(n)} items done${failed > 0 ? `, ${count(failed)} failed` : ''}`,
  };
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** The text after the name: attempt, duration and what the task says (log line, error, reason). */
function rowInfo(row: Row, s: Shown, now: number): Segment[] {
  const out: Segment[] = [];
  if (row.attempt > 1) out.push({ text: `  attempt ${row.attempt}`, style: 'dim' });
  if (s.startedAt !== null) {
    const end = s.endedAt ?? (ACTIVE.has(s.state) ? now : null);
    if (end !== null) out.push({ text: `  ${duration(Math.max(0, end - s.startedAt))}`, style: 'dim' });
  }
  if (s.state === 'retrying' && row.retryAt !== null) {
    out.push({ text: `  retry in ${duration(Math.max(0, row.retryAt - now))}`, style: 'yellow' });
  }
  if (s.state === 'interrupted') out.push({ text: '  interrupted; runs again', style: 'yellow' });
  if (s.detail !== null) out.push({ text: `  ${oneLine(s.detail)}`, style: s.state === 'failed' ? 'red' : 'gray' });
  if (s.state === 'running' && row.lastLog !== null && row.children === null) {
    out.push({ text: `  │ ${oneLine(row.lastLog)}` });
  }
  return out;
}

function rowLine(row: Row, nameWidth: number, width: number, now: number, colour: Colour): string {
  const s = shown(row);
  const symbol = s.state === 'running' ? SPINNER[Math.floor(now / 80) % SPINNER.length]! : SYMBOL[s.state];
  const name = oneLine(row.name);
  const info = rowInfo(row, s, now);
  const pad = info.length === 0 ? '' : ' '.repeat(Math.max(0, nameWidth - textWidth(name)));
  return fit(
    [{ text: '  ' }, { text: symbol, style: STATE_STYLE[s.state] }, { text: ` ${name}${pad}` }, ...info],
    width,
    colour,
  );
}

/** Leaf rows (items, not their for_each task) by state. */
function countStates(rows: readonly Row[]): Map<RowState, number> {
  const counts = new Map<RowState, number>();
  for (const r of rows) if (r.children === null) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  return counts;
}

function countsText(counts: ReadonlyMap<RowState, number>): string[] {
  return STATE_ORDER.filter((s) => (counts.get(s) ?? 0) > 0).map((s) => `${count(counts.get(s)!)} ${s}`);
}

function headerLine(state: ViewState, width: number, now: number, colour: Colour): string {
  const counts = countStates(state.rows);
  const segments: Segment[] = [
    { text: oneLine(state.workflow), style: 'bold' },
    { text: `  run ${oneLine(state.runId)}  ${duration(Math.max(0, now - state.startedAt))}`, style: 'dim' },
  ];
  for (const s of STATE_ORDER) {
    const n = counts.get(s) ?? 0;
    if (n > 0)
      segments.push({ text: `${segments.length === 2 ? '  ' : ' · '}${count(n)} ${s}`, style: STATE_STYLE[s] });
  }
  return fit(segments, width, colour);
}

function footerLine(state: ViewState, width: number, colour: Colour): string {
  if (state.cancelling !== null) {
    return fit(
      [{ text: `  cancelling: ${oneLine(state.cancelling)} (Ctrl-C again kills the tasks)`, style: 'yellow' }],
      width,
      colour,
    );
  }
  return fit([{ text: '  Ctrl-C cancels the run', style: 'dim' }], width, colour);
}

/** Which rows fit: active, then failed, then the rest in order; shown in their own order. */
function pickRows(rows: readonly Row[], budget: number): { rows: Row[]; hidden: Row[] } {
  if (rows.length <= budget) return { rows: [...rows], hidden: [] };
  const rank = (r: Row): number => {
    const s = shown(r).state;
    return ACTIVE.has(s) ? 0 : s === 'failed' ? 1 : 2;
  };
  const order = rows.map((r, i) => ({ i, rank: rank(r) })).sort((a, b) => a.rank - b.rank || a.i - b.i);
  const keep = new Set(order.slice(0, Math.max(0, budget)).map((x) => x.i));
  return { rows: rows.filter((_, i) => keep.has(i)), hidden: rows.filter((_, i) => !keep.has(i)) };
}

function summaryOf(hidden: readonly Row[], width: number, colour: Colour): string {
  const counts = countStates(hidden);
  const parts = countsText(counts);
  const n = [...counts.values()].reduce((a, b) => a + b, 0);
  return fit(
    [{ text: `  … ${count(n)} more${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`, style: 'dim' }],
    width,
    colour,
  );
}

/**
 * The frame's lines, each cut to fit `width - 1` columns (never the last column, where some
 * terminals wrap), and at most `height - 1` lines, so the cursor can always move back to the top.
 */
export function renderLines(
  state: ViewState,
  width: number,
  height: number,
  now: number,
  colour: Colour = plain,
): string[] {
  const w = Math.max(10, width - 1);
  const chrome = state.finished ? 1 : 2;
  const room = Math.max(1, height - MARGIN - chrome);
  // One line of the room goes to the summary of what does not fit.
  const picked = pickRows(state.rows, state.rows.length <= room ? room : room - 1);
  const nameWidth = Math.min(40, Math.max(0, ...picked.rows.map((r) => textWidth(oneLine(r.name)))));
  const lines = [headerLine(state, w, now, colour)];
  for (const r of picked.rows) lines.push(rowLine(r, nameWidth, w, now, colour));
  if (picked.hidden.length > 0) lines.push(summaryOf(picked.hidden, w, colour));
  if (!state.finished) lines.push(footerLine(state, w, colour));
  return lines;
}

/** A frame as text (lines joined with newlines): what tests compare. */
export function renderFrame(
  state: ViewState,
  width: number,
  height: number,
  now: number,
  colour: Colour = plain,
): string {
  return renderLines(state, width, height, now, colour).join('\n');
}

// ------------------------------------------------------------------------- state updates

function isDescendant(name: string, parent: string): boolean {
  return name.startsWith(`${parent}/`) || name.startsWith(`${parent}[`);
}

/** Where a new row goes: after its parent (a for_each task, a workflow task) and its other descendants. */
function insertAt(rows: readonly Row[], name: string): number {
  const slash = name.lastIndexOf('/');
  const bracket = name.endsWith(']') ? name.lastIndexOf('[') : -1;
  const parent = name.slice(0, Math.max(slash, bracket));
  if (parent === '') return rows.length;
  const p = rows.findIndex((r) => r.name === parent);
  if (p < 0) return rows.length;
  let j = p + 1;
  while (j < rows.length && isDescendant(rows[j]!.name, parent)) j++;
  return j;
}

export function rowFor(state: ViewState, name: string): Row {
  let row = state.byName.get(name);
  if (row === undefined) {
    row = newRow(name);
    state.byName.set(name, row);
    state.rows.splice(insertAt(state.rows, name), 0, row);
  }
  return row;
}

function expand(state: ViewState, row: Row, items: number): void {
  if (row.children !== null) {
    const old = new Set(row.children);
    state.rows = state.rows.filter((r) => !old.has(r));
    for (const c of old) state.byName.delete(c.name);
  }
  row.children = [];
  for (let i = 0; i < items; i++) {
    const child = newRow(`${row.name}[${i}]`);
    row.children.push(child);
    state.byName.set(child.name, child);
  }
  state.rows.splice(state.rows.indexOf(row) + 1, 0, ...row.children);
  row.state = items === 0 ? 'succeeded' : 'running';
}

function ended(row: Row, state: RowState, at: number, detail: string | null): void {
  row.state = state;
  row.endedAt = at;
  row.detail = detail;
  row.retryAt = null;
}

/** Applies an engine event to the view's state. */
export function applyEvent(state: ViewState, e: EngineEvent): void {
  if (e.type === 'run.cancelling') {
    state.cancelling = String(e.data?.reason ?? 'cancelled');
    return;
  }
  if (e.task === null || e.task === '' || !e.type.startsWith('task.')) return;
  const row = rowFor(state, unitName(e.task, e.item));
  const d = e.data ?? {};
  switch (e.type) {
    case 'task.started':
      row.state = 'running';
      row.attempt = e.attempt ?? row.attempt + 1;
      row.startedAt ??= e.at;
      row.endedAt = null;
      row.retryAt = null;
      row.detail = null;
      return;
    case 'task.waiting':
      row.state = 'waiting';
      return;
    case 'task.succeeded': {
      const cached = d.cached as { run?: string } | null | undefined;
      ended(row, 'succeeded', e.at, cached?.run === undefined ? null : `cached from run ${cached.run}`);
      return;
    }
    case 'task.failed':
      applyFailed(row, e);
      return;
    case 'task.skipped':
      ended(row, 'skipped', e.at, String(d.reason ?? ''));
      return;
    case 'task.cancelled':
      ended(row, 'cancelled', e.at, null);
      return;
    case 'task.interrupted':
      row.state = 'interrupted';
      return;
    case 'task.expanded':
      expand(state, row, Array.isArray(d.items) ? d.items.length : 0);
      return;
    default:
      return;
  }
}

function applyFailed(row: Row, e: EngineEvent): void {
  const d = e.data ?? {};
  const message = (d.error as { message?: string } | undefined)?.message ?? 'failed';
  if (typeof d.retry_at === 'number') {
    row.state = 'retrying';
    row.retryAt = d.retry_at;
    row.detail = message;
    return;
  }
  ended(row, 'failed', e.at, message);
}

// ------------------------------------------------------------------------- the reporter

export interface LiveViewOptions {
  /** The workflow's task count (the rows themselves come with `start`). */
  readonly tasks: number;
  readonly now?: () => number;
  /** Time between frames; default 83 ms (12 frames a second). */
  readonly intervalMs?: number;
}

type Out = Io['stdout'] & { columns?: number; rows?: number };

export class LiveView implements Reporter {
  readonly #io: Io;
  readonly #out: Out;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #state = newViewState();
  #timer: ReturnType<typeof setInterval> | null = null;
  /** Lines of the block now on screen (0 when none). */
  #lines = 0;
  #lastFrame: string | null = null;
  #started = false;
  #paused = false;
  #finished = false;
  #cursorHidden = false;
  readonly #restore = (): void => {
    if (this.#cursorHidden) this.#out.write(SHOW_CURSOR);
  };

  constructor(io: Io, options: LiveViewOptions) {
    this.#io = io;
    this.#out = io.stdout as Out;
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.intervalMs ?? 83;
  }

  /** The state frames are drawn from (for tests and renderFrame). */
  get state(): ViewState {
    return this.#state;
  }

  /** Lines of the block on screen now. */
  get lines(): number {
    return this.#lines;
  }

  #colour: Colour = (style, text) => paint(this.#out, style, text);

  start(info: RunInfo): void {
    const s = this.#state;
    s.workflow = info.workflow;
    s.runId = info.runId;
    s.startedAt = this.#now();
    // Events can arrive before start (the run is created first): keep their rows, tasks in order.
    const earlier = s.rows;
    s.rows = [];
    for (const id of info.tasks) s.rows.push(s.byName.get(id) ?? newRow(id));
    for (const r of s.rows) s.byName.set(r.name, r);
    for (const r of earlier) if (!s.rows.includes(r)) s.rows.splice(insertAt(s.rows, r.name), 0, r);
    this.#started = true;
    this.#startTimer();
    this.draw();
  }

  event(e: EngineEvent): void {
    applyEvent(this.#state, e);
  }

  history(events: readonly EngineEvent[]): void {
    for (const e of events) applyEvent(this.#state, e);
  }

  log(l: EngineLog): void {
    if (l.task === null || l.task === '') return;
    const row = this.#state.byName.get(unitName(l.task, l.item));
    if (row !== undefined) row.lastLog = l.line.length > MAX_LOG_CHARS ? l.line.slice(0, MAX_LOG_CHARS) : l.line;
  }

  /** Printed above the block (in the same write, on the same terminal), or to stderr when it is elsewhere. */
  note(text: string): void {
    if (this.#drawing() && this.#io.stderr.isTTY === true) this.#write(`${text}\n`, this.#frameLines());
    else this.#io.stderr.write(`${text}\n`);
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#stopTimer();
    if (this.#lines > 0 || this.#cursorHidden) {
      this.#out.write(`${SYNC_START}${this.#up()}${CLEAR_BELOW}${SHOW_CURSOR}${SYNC_END}`);
    }
    this.#lines = 0;
    this.#lastFrame = null;
    this.#cursorHidden = false;
    process.off('exit', this.#restore);
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#started && !this.#finished) {
      this.#startTimer();
      this.draw();
    }
  }

  /** Draws a frame now (the timer calls this; tests call it directly). */
  draw(): void {
    if (!this.#drawing()) return;
    const lines = this.#frameLines();
    const frame = lines.join('\n');
    if (frame === this.#lastFrame && lines.length === this.#lines) return;
    this.#write('', lines);
  }

  finish(outcome: RunOutcome): void {
    this.#stopTimer();
    if (this.#started) {
      this.#state.finished = true;
      this.#write('', this.#frameLines());
    }
    this.#finished = true;
    this.#restore();
    this.#cursorHidden = false;
    process.off('exit', this.#restore);
    const out = this.#out;
    out.write(`${summaryLine(this.#io, outcome, this.#now() - (this.#state.startedAt || this.#now()))}\n`);
    printOutputs(this.#io, outcome);
    this.#printFailures();
  }

  #printFailures(): void {
    const failed = this.#state.rows.filter((r) => r.children === null && r.state === 'failed');
    if (failed.length === 0) return;
    const limit = 20;
    this.#out.write(`failed ${failed.length === 1 ? 'task' : 'tasks'}:\n`);
    for (const r of failed.slice(0, limit)) {
      const lines = printable(r.detail ?? 'failed').split('\n');
      this.#out.write(`  ${paint(this.#out, 'red', '✗')} ${printable(r.name)}: ${lines.join('\n    ')}\n`);
    }
    if (failed.length > limit) this.#out.write(`  … ${count(failed.length - limit)} more failed\n`);
  }

  #drawing(): boolean {
    return this.#started && !this.#paused && !this.#finished;
  }

  #frameLines(): string[] {
    // A terminal that reports no size (0 under some pseudo-terminals) gets the usual 80x24.
    const width = this.#out.columns !== undefined && this.#out.columns > 0 ? this.#out.columns : 80;
    const height = this.#out.rows !== undefined && this.#out.rows > 0 ? this.#out.rows : 24;
    return renderLines(this.#state, width, height, this.#now(), this.#colour);
  }

  #up(): string {
    return this.#lines > 0 ? `\r\x1b[${this.#lines}A` : '\r';
  }

  /** One write: back to the top of the block, `above` (printed once, scrolls up), then the frame. */
  #write(above: string, lines: readonly string[]): void {
    let out = SYNC_START;
    if (!this.#cursorHidden) {
      out += HIDE_CURSOR;
      this.#cursorHidden = true;
      process.on('exit', this.#restore);
    }
    out += this.#up();
    if (above !== '') out += `${CLEAR_BELOW}${above}`;
    for (const l of lines) out += `${CLEAR_LINE}${l}\n`;
    if (lines.length < this.#lines || above !== '') out += CLEAR_BELOW;
    out += SYNC_END;
    this.#out.write(out);
    this.#lines = lines.length;
    this.#lastFrame = lines.join('\n');
  }

  #startTimer(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.draw(), this.#intervalMs);
    this.#timer.unref();
  }

  #stopTimer(): void {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
  }
}
