/**
 * The live view, drawn into a fake terminal: frames rewrite in place (cursor up over the last
 * frame, lines cleared one by one, never the screen), inside synchronized-output markers; task
 * text cannot inject escapes; lines fit the width; big DAGs are summarized; finish prints the
 * summary and shows the cursor again. No timers are waited on: frames are drawn with `draw()`.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import type { EngineEvent, RunOutcome } from '../engine/types.ts';
import {
  HIDE_CURSOR,
  LiveView,
  newViewState,
  renderFrame,
  rowFor,
  SHOW_CURSOR,
  SYNC_END,
  SYNC_START,
  applyEvent,
} from './live-view.ts';

class FakeTerminal extends Writable {
  isTTY = true;
  columns: number;
  rows: number;
  readonly writes: string[] = [];

  constructor(columns = 80, rows = 24) {
    super();
    this.columns = columns;
    this.rows = rows;
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.writes.push(chunk.toString());
    cb();
  }

  get text(): string {
    return this.writes.join('');
  }
}

/** Without colour (SGR) sequences: what a person reads. */
const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

function setup(columns = 80, rows = 24) {
  const stdout = new FakeTerminal(columns, rows);
  const stderr = new FakeTerminal(columns, rows);
  let clock = 1_000_000;
  const view = new LiveView({ stdout, stderr }, { tasks: 3, now: () => clock, intervalMs: 60_000 });
  return {
    stdout,
    stderr,
    view,
    tick: (ms: number) => (clock += ms),
    now: () => clock,
  };
}

function ev(type: string, task: string | null, extra: Partial<EngineEvent> = {}): EngineEvent {
  return { runId: 'r1', type, task, item: null, attempt: null, at: 1_000_000, data: null, ...extra };
}

const outcome = (state: RunOutcome['state'], error: string | null = null): RunOutcome => ({
  runId: 'r1',
  state,
  outputs: null,
  error,
});

/** The lines a frame write draws (the text between each clear-line and its newline). */
function frameLines(write: string): string[] {
  return [...write.matchAll(/\x1b\[2K([^\n]*)\n/g)].map((m) => strip(m[1]!));
}

describe('LiveView', () => {
  test('a frame has the header, a line per task with its state, and the footer', () => {
    const { stdout, view, tick } = setup();
    view.start({ runId: 'r1', workflow: 'deploy', tasks: ['build', 'test', 'ship'] });
    view.event(ev('task.started', 'build', { attempt: 1 }));
    view.event(ev('task.succeeded', 'build', { at: 1_001_500 }));
    view.event(ev('task.started', 'test', { attempt: 2, at: 1_002_000 }));
    view.log({
      runId: 'r1',
      task: 'test',
      item: null,
      attempt: 2,
      stream: 'stdout',
      at: 1_002_000,
      line: 'running 12 tests',
    });
    tick(3000);
    view.draw();
    const lines = frameLines(stdout.writes.at(-1)!);
    assert.match(lines[0]!, /^deploy {2}run r1 {2}3\.0 s {2}1 running · 1 pending · 1 succeeded$/);
    assert.match(lines[1]!, /^ {2}✓ build {2}1\.5 s$/);
    assert.match(lines[2]!, /^ {2}[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] test {3}attempt 2 {2}1\.0 s {2}│ running 12 tests$/);
    assert.match(lines[3]!, /^ {2}· ship$/);
    assert.match(lines[4]!, /Ctrl-C cancels the run/);
    assert.equal(lines.length, 5);
  });

  test('a later frame rewrites the block in place, inside synchronized-output markers', () => {
    const { stdout, view, tick } = setup();
    view.start({ runId: 'r1', workflow: 'deploy', tasks: ['a', 'b'] });
    const first = stdout.writes.at(-1)!;
    const firstLines = frameLines(first).length;
    assert.ok(first.startsWith(SYNC_START) && first.endsWith(SYNC_END));
    assert.ok(first.includes(HIDE_CURSOR));
    view.event(ev('task.started', 'a', { attempt: 1 }));
    tick(500);
    view.draw();
    const second = stdout.writes.at(-1)!;
    assert.notEqual(second, first);
    assert.ok(second.startsWith(SYNC_START) && second.endsWith(SYNC_END));
    const up = [...second.matchAll(/\x1b\[(\d+)A/g)].map((m) => Number(m[1]));
    assert.deepEqual(up, [firstLines]);
    assert.equal((second.match(/\x1b\[2K/g) ?? []).length, frameLines(second).length);
    assert.ok(!stdout.text.includes('\x1b[2J'), 'never clears the screen');
    assert.equal(view.lines, frameLines(second).length);
  });

  test('an unchanged frame is not written again; a shrinking one clears what is left below', () => {
    const { stdout, view } = setup();
    view.start({ runId: 'r1', workflow: 'w', tasks: ['a'] });
    const n = stdout.writes.length;
    view.draw();
    assert.equal(stdout.writes.length, n);
    view.event(ev('run.cancelling', null, { data: { reason: 'Ctrl-C' } }));
    view.draw();
    assert.match(frameLines(stdout.writes.at(-1)!).at(-1)!, /cancelling: Ctrl-C/);
  });

  test('ANSI escapes and CR in log lines, errors and reasons are escaped, never sent raw', () => {
    const { stdout, view } = setup(200);
    view.start({ runId: 'r1', workflow: 'w', tasks: ['a', 'b', 'c'] });
    view.event(ev('task.started', 'a', { attempt: 1 }));
    view.log({
      runId: 'r1',
      task: 'a',
      item: null,
      attempt: 1,
      stream: 'stdout',
      at: 0,
      line: '\x1b[2J\x1b[1;1Hgotcha\rEVIL',
    });
    view.event(ev('task.failed', 'b', { data: { error: { message: 'bad\x1b[31m\r\nred' } } }));
    view.event(ev('task.skipped', 'c', { data: { reason: '\x1b]0;title\x07' } }));
    view.draw();
    const out = stdout.text;
    assert.ok(!out.includes('\x1b[2J'));
    assert.ok(!out.includes('\x1b[1;1H'));
    assert.ok(!out.includes('\rEVIL'));
    assert.ok(!out.includes('\x1b]0;'));
    assert.ok(!out.includes('\x07'));
    const frame = frameLines(stdout.writes.at(-1)!).join('\n');
    assert.ok(frame.includes('\\x1b[2J\\x1b[1;1Hgotcha\\x0dEVIL'), frame);
    assert.ok(frame.includes('bad\\x1b[31m\\x0d red'), frame);
    assert.ok(frame.includes('\\x1b]0;title\\x07'), frame);
  });

  test('long lines are cut to the terminal width', () => {
    const { stdout, view } = setup(40);
    view.start({ runId: 'r1', workflow: 'w', tasks: ['a'] });
    view.event(ev('task.started', 'a', { attempt: 1 }));
    view.log({ runId: 'r1', task: 'a', item: null, attempt: 1, stream: 'stdout', at: 0, line: 'x'.repeat(500) });
    view.draw();
    const lines = frameLines(stdout.writes.at(-1)!);
    for (const l of lines) assert.ok([...l].length < 40, `${l.length}: ${l}`);
    assert.ok(lines[1]!.endsWith('x…'));
    // Wide characters count twice.
    const state = newViewState();
    state.workflow = 'w';
    const row = rowFor(state, 'a');
    row.state = 'failed';
    row.detail = '界'.repeat(100);
    const line = renderFrame(state, 30, 24, 0).split('\n')[1]!;
    const width = [...line].reduce((n, ch) => n + (ch === '界' ? 2 : 1), 0);
    assert.ok(width <= 29, line);
  });

  test('a DAG larger than the terminal shows active and failed tasks first and summarizes the rest', () => {
    const state = newViewState();
    state.workflow = 'big';
    state.runId = 'r9';
    const ids = Array.from({ length: 10_000 }, (_, i) => `t${i}`);
    for (const id of ids) rowFor(state, id);
    for (let i = 0; i < 9_700; i++) applyEvent(state, ev('task.succeeded', ids[i]!));
    applyEvent(state, ev('task.started', 't9800', { attempt: 1 }));
    applyEvent(state, ev('task.waiting', 't9900'));
    applyEvent(state, ev('task.failed', 't50', { data: { error: { message: 'boom' } } }));
    const lines = renderFrame(state, 100, 20, 1_000_000).split('\n');
    assert.ok(lines.length <= 19, `${lines.length} lines`);
    assert.match(lines[0]!, /1 running · 1 waiting · 1 failed · 298 pending · 9,699 succeeded/);
    const body = lines.join('\n');
    assert.match(body, /✗ t50 +boom/);
    assert.match(body, /t9800/);
    assert.match(body, /… t9900/);
    const summary = lines.find((l) => l.includes('more:'))!;
    const rows = lines.slice(1, -2);
    const shownOk = rows.filter((l) => l.startsWith('  ✓')).length;
    const shownPending = rows.filter((l) => l.startsWith('  ·')).length;
    const hidden = 10_000 - rows.length;
    const n = (x: number): string => x.toLocaleString('en-US');
    assert.equal(summary, `  … ${n(hidden)} more: ${n(298 - shownPending)} pending, ${n(9_699 - shownOk)} succeeded`);
    // Shown rows keep their order.
    assert.ok(body.indexOf('t50 ') < body.indexOf('t9800'));
  });

  test('for_each items and child-run tasks get their own rows after their task', () => {
    const state = newViewState();
    for (const id of ['fan', 'sub', 'end']) rowFor(state, id);
    applyEvent(state, ev('task.expanded', 'fan', { data: { items: ['x', 'y', 'z'] } }));
    applyEvent(state, ev('task.started', 'fan', { item: 1, attempt: 1 }));
    applyEvent(state, ev('task.succeeded', 'fan', { item: 0 }));
    applyEvent(state, ev('task.started', 'sub', { attempt: 1 }));
    applyEvent(state, ev('task.started', 'sub/inner', { attempt: 1 }));
    const lines = renderFrame(state, 100, 40, 1_000_000).split('\n');
    const names = lines.slice(1, -1).map((l) => l.trim().split(/\s+/)[1]);
    assert.deepEqual(names, ['fan', 'fan[0]', 'fan[1]', 'fan[2]', 'sub', 'sub/inner', 'end']);
    assert.match(lines[1]!, /1\/3 items done/);
    assert.match(lines[0]!, /3 running · 2 pending · 1 succeeded/);
  });

  test('note prints above the block and redraws it; pause clears it and resume draws again', () => {
    const { stdout, view } = setup();
    view.start({ runId: 'r1', workflow: 'w', tasks: ['a'] });
    const before = view.lines;
    view.note('warning: something');
    const w = stdout.writes.at(-1)!;
    assert.ok(w.startsWith(SYNC_START) && w.endsWith(SYNC_END));
    assert.ok(w.includes(`\x1b[${before}A`));
    assert.ok(w.indexOf('warning: something') < w.indexOf('\x1b[2K'));
    assert.equal(frameLines(w).length, before);
    view.pause();
    assert.ok(stdout.writes.at(-1)!.includes(SHOW_CURSOR));
    assert.equal(view.lines, 0);
    const n = stdout.writes.length;
    view.draw();
    assert.equal(stdout.writes.length, n, 'no drawing while paused');
    view.resume();
    assert.ok(stdout.writes.length > n);
    assert.ok(!stdout.writes.at(-1)!.match(/\x1b\[\d+A/), 'a fresh block after a prompt');
    view.finish(outcome('succeeded'));
  });

  test('finish draws a last frame, prints the summary and failures, and shows the cursor', () => {
    const { stdout, view, tick } = setup();
    view.start({ runId: 'r1', workflow: 'w', tasks: ['a', 'b'] });
    view.event(ev('task.succeeded', 'a'));
    view.event(ev('task.failed', 'b', { data: { error: { message: 'exit code 3\nsecond line' } } }));
    tick(2000);
    const n = stdout.writes.length;
    view.finish(outcome('failed', 'task b failed: exit code 3'));
    const after = stdout.writes.slice(n).join('');
    assert.ok(after.includes(SHOW_CURSOR));
    assert.ok(after.lastIndexOf(SHOW_CURSOR) > after.lastIndexOf(HIDE_CURSOR));
    const text = strip(after);
    assert.match(text, /✗ run r1 failed in 2\.0 s: task b failed: exit code 3/);
    assert.match(text, /failed task:\n {2}✗ b: exit code 3\n {4}second line\n/);
    assert.ok(!text.includes('Ctrl-C cancels'), 'the last frame has no footer');
    const m = stdout.writes.length;
    view.draw();
    assert.equal(stdout.writes.length, m, 'nothing is drawn after finish');
  });

  test('retries, interruptions, skips and cached results show what happened', () => {
    const state = newViewState();
    for (const id of ['a', 'b', 'c', 'd']) rowFor(state, id);
    applyEvent(state, ev('task.started', 'a', { attempt: 1 }));
    applyEvent(state, ev('task.failed', 'a', { data: { error: { message: 'timeout' }, retry_at: 1_005_000 } }));
    applyEvent(state, ev('task.interrupted', 'b'));
    applyEvent(state, ev('task.skipped', 'c', { data: { reason: 'if: condition is false' } }));
    applyEvent(state, ev('task.succeeded', 'd', { data: { cached: { run: 'r0', at: 1 } } }));
    const frame = renderFrame(state, 120, 24, 1_001_000);
    assert.match(frame, /↻ a {2}1\.0 s {2}retry in 4\.0 s {2}timeout/);
    assert.match(frame, /↻ b +interrupted; runs again/);
    assert.match(frame, /○ c +if: condition is false/);
    assert.match(frame, /✓ d +cached from run r0/);
  });
});
