// Logs and terminal (RELIABILITY.md 4.7): ANSI escapes, CR, backspace and other control characters
// in inputs and in task output never reach a terminal raw. Line output, `runs show`, `runs logs`
// and `--dry-run` print them escaped (`\x1b[2J`); `--json` carries them JSON-escaped and intact;
// the live view (drawn into a real pseudo-terminal by `script`, and through its pure render
// function) emits no control sequence but its own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { EngineEvent, EngineLog } from '../../src/engine/types.ts';
import {
  HIDE_CURSOR,
  LiveView,
  SHOW_CURSOR,
  SYNC_END,
  SYNC_START,
  applyEvent,
  newViewState,
  renderFrame,
  rowFor,
} from '../../src/cli/live-view.ts';
import { cleanEnv, ndjson, repo, rivet, tempDir } from './helpers.ts';

/** What task text tries to do to a terminal. */
const PAYLOADS: readonly string[] = [
  '\x1b[2Jcleared the screen',
  '\x1b]0;pwned title\x07after the title',
  'up one line\x1b[1A\x1b[2Koverwritten',
  'all good\rFAILED: everything',
  'abc\b\b\bxyz',
  '\x1b[31mred text\x1b[0m',
  '\u009b2J C1 control sequence introducer',
  'bell\x07 and delete\x7f',
  '\x1b[?1049h alternate screen',
  '\x1bc full reset',
  '\x1b[6n device status report',
  '\x1b]8;;http://evil.example/\x07a link\x1b]8;;\x07',
];

/** Raw control characters that must never reach a terminal from task text (tab and newline are text). */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
/** The same, without what JSON.stringify leaves as is (DEL and C1 are not JSON control characters). */
const RAW_C0 = /[\u0000-\u0008\u000b-\u001f]/;

function firstRaw(text: string, re = RAW_CONTROL): string {
  const m = re.exec(text);
  if (m === null) return '';
  return JSON.stringify(text.slice(Math.max(0, m.index - 60), m.index + 60));
}

/** A task printing each payload; one writing escapes of its own; failures carrying them in messages. */
function workflow(): unknown {
  return {
    name: 'terminal_escapes',
    inputs: {
      msgs: { type: 'list', required: true },
      msg: { type: 'string', required: true },
      forge: { type: 'string', required: true },
    },
    tasks: {
      echo_input: {
        for_each: '${{ inputs.msgs }}',
        shell: { run: 'printf \'%s\\n\' "$M"; sleep 0.4', env: { M: '${{ item }}' } },
        outputs: { v: '${{ item }}' },
      },
      own_output: {
        shell: {
          run: "printf '\\033[2J\\033]0;title\\007\\033[1Abefore\\rafter\\bX\\n'; printf 'to stderr \\033[2J\\n' >&2; sleep 0.4",
        },
      },
      fails_with_stderr: {
        shell: { run: 'printf \'%s\\n\' "$M" >&2; exit 1', env: { M: '${{ inputs.msg }}' } },
      },
      fails_with_cwd: { shell: { run: 'true', cwd: '/nonexistent/${{ inputs.forge }}' } },
      skipped: { if: '${{ inputs.msg }}', noop: {} },
    },
    outputs: { msg: '${{ inputs.msg }}', forge: '${{ inputs.forge }}', all: '${{ tasks.echo_input.outputs }}' },
  };
}

test('line output, runs show/logs and --dry-run escape control characters; --json keeps them JSON-escaped', async (t) => {
  const dir = tempDir('rivet-terminal-');
  const home = join(dir, 'home');
  const file = join(dir, 'terminal.yaml');
  writeFileSync(file, JSON.stringify(workflow(), null, 2));
  const msg = PAYLOADS.join(' | ');
  const forge = `${PAYLOADS[0]}\n01:02:03 ✓ deploy succeeded`;
  const inputsFile = join(dir, 'inputs.json');
  writeFileSync(inputsFile, JSON.stringify({ msgs: PAYLOADS, msg, forge }));
  const args = ['run', file, '--inputs-file', inputsFile, '--home', home];

  const [lines, json, dry, dryJson] = await Promise.all([
    rivet(args),
    rivet([...args, '--json']),
    rivet([...args, '--dry-run']),
    rivet([...args, '--dry-run', '--json']),
  ]);
  assert.equal(lines.code, 1, lines.stdout + lines.stderr);
  assert.equal(json.code, 1, json.stdout + json.stderr);
  assert.equal(dry.code, 0, dry.stdout + dry.stderr);
  assert.equal(dryJson.code, 0, dryJson.stdout + dryJson.stderr);
  const runId = /run ([a-z0-9]+) started/.exec(lines.stdout)![1]!;
  const reads = await Promise.all([
    rivet(['runs', 'show', runId, '--home', home]),
    rivet(['runs', 'logs', runId, '--home', home]),
    rivet(['runs', 'show', runId, '--json', '--home', home]),
    rivet(['runs', 'logs', runId, '--json', '--home', home]),
  ]);
  for (const r of reads) assert.equal(r.code, 0, r.stdout + r.stderr);
  const [show, logs, showJson, logsJson] = reads as [typeof lines, typeof lines, typeof lines, typeof lines];

  // Text for people: every control character escaped, in 100% of the places.
  const human = { run: lines, 'runs show': show, 'runs logs': logs, 'run --dry-run': dry };
  let checked = 0;
  for (const [what, r] of Object.entries(human)) {
    for (const [stream, text] of [
      ['stdout', r.stdout],
      ['stderr', r.stderr],
    ] as const) {
      assert.doesNotMatch(text, RAW_CONTROL, `${what} ${stream}: raw control character at ${firstRaw(text)}`);
      checked++;
    }
  }
  // …and shown, not dropped: the escaped text of each payload is there.
  for (const p of PAYLOADS) {
    const shown = p.replace(RAW_CONTROL_GLOBAL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    assert.ok(lines.stdout.includes(shown), `run shows ${JSON.stringify(shown)}`);
    assert.ok(logs.stdout.includes(shown), `runs logs shows ${JSON.stringify(shown)}`);
  }
  assert.match(lines.stdout, /\\x1b\[2Jcleared the screen/);
  assert.match(lines.stdout, /✗ fails_with_stderr failed: exit code 1: \\x1b\[2Jcleared/);
  assert.match(lines.stdout, /before\\x0dafter\\x08X/);
  // A newline in a value never starts a line of its own that looks like Rivet's.
  for (const r of [lines, show, logs, dry]) {
    const forged = r.stdout.split('\n').filter((l) => l.startsWith('01:02:03 ✓ deploy succeeded'));
    assert.deepEqual(forged, [], `a value forged a line in ${r.args.join(' ')}`);
  }

  // Machine output: no raw C0 control character; the values come back intact.
  for (const r of [json, showJson, logsJson, dryJson]) {
    assert.doesNotMatch(
      r.stdout,
      RAW_C0,
      `${r.args.join(' ')}: raw control character at ${firstRaw(r.stdout, RAW_C0)}`,
    );
    assert.doesNotMatch(r.stderr, RAW_CONTROL);
  }
  const events = ndjson(json.stdout);
  const logged = events
    .filter((e) => e.type === 'log' && e.task === 'echo_input')
    .sort((a, b) => Number(a.item) - Number(b.item))
    .map((e) => e.line);
  assert.deepEqual(logged, PAYLOADS, 'each payload line arrives byte for byte in --json');
  const finished = events.find((e) => e.type === 'cli.finished') as {
    outputs: { msg: string; forge: string; all: { v: string }[] };
  };
  assert.equal(finished.outputs.msg, msg);
  assert.equal(finished.outputs.forge, forge);
  assert.deepEqual(
    finished.outputs.all.map((o) => o.v),
    PAYLOADS,
  );
  assert.ok(json.stdout.includes('\\u001b[2Jcleared the screen'), 'ESC is JSON-escaped as \\u001b');
  assert.ok(json.stdout.includes('all good\\rFAILED'), 'CR is JSON-escaped as \\r');
  assert.ok(json.stdout.includes('abc\\b\\b\\bxyz'), 'backspace is JSON-escaped as \\b');
  const own = events.filter((e) => e.type === 'log' && e.task === 'own_output').map((e) => e.line);
  assert.ok(own.includes('\x1b[2J\x1b]0;title\x07\x1b[1Abefore\rafter\bX'), JSON.stringify(own));
  t.diagnostic(
    `${PAYLOADS.length} payloads (+1 multi-line value) through ${checked} human-readable streams and 4 JSON documents: 0 raw`,
  );
});

const RAW_CONTROL_GLOBAL = new RegExp(RAW_CONTROL.source, 'g');

/** The live view's own control sequences, removed before looking for anything else. */
const OWN_SEQUENCES = new RegExp(
  [
    esc(SYNC_START),
    esc(SYNC_END),
    esc(HIDE_CURSOR),
    esc(SHOW_CURSOR),
    '\\x1b\\[2K', // clear line
    '\\x1b\\[J', // clear below
    '\\x1b\\[[0-9;]*m', // colours
  ].join('|'),
  'g',
);
/** Its cursor moves: back to the block's first column (and up over it), right after a frame starts. */
const OWN_CURSOR = /(\x1b\[\?2026h(?:\x1b\[\?25l)?)\r(?:\x1b\[\d+A)?/g;

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Terminal output with the live view's own sequences removed. */
function withoutOwnSequences(text: string): string {
  return text.replace(OWN_CURSOR, '$1').replace(OWN_SEQUENCES, '');
}

class FakeTerminal extends Writable {
  isTTY = true;
  columns = 300;
  rows = 40;
  readonly writes: string[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.writes.push(chunk.toString());
    cb();
  }
}

test('the live view renders task text escaped: pure frames and a drawn view', () => {
  // The pure function.
  const state = newViewState();
  state.workflow = 'w\x1b[2J';
  state.runId = 'r\r';
  state.startedAt = 1000;
  for (const [i, p] of PAYLOADS.entries()) {
    const row = rowFor(state, `t${i}`);
    row.state = i % 3 === 0 ? 'failed' : 'running';
    row.startedAt = 1000;
    row.lastLog = p;
    row.detail = i % 3 === 0 ? `error: ${p}` : null;
  }
  state.cancelling = 'cancel \x1b[1A reason';
  for (const [width, height] of [
    [300, 40],
    [40, 10],
    [12, 5],
  ] as const) {
    const frame = renderFrame(state, width, height, 5000);
    assert.doesNotMatch(frame, RAW_CONTROL, `frame ${width}x${height}: ${firstRaw(frame)}`);
  }
  const wide = renderFrame(state, 300, 40, 5000);
  assert.ok(wide.includes('\\x1b[2Jcleared the screen'), wide);
  assert.ok(wide.includes('all good\\x0dFAILED'), wide);

  // A LiveView drawing into a terminal, with colour: only its own sequences are raw.
  const stdout = new FakeTerminal();
  const stderr = new FakeTerminal();
  let now = 1_000_000;
  const view = new LiveView({ stdout, stderr }, { tasks: PAYLOADS.length, now: () => now, intervalMs: 60_000 });
  const ev = (type: string, task: string, data: Record<string, unknown> | null = null): EngineEvent =>
    ({ runId: 'r1', type, task, item: null, attempt: 1, at: now, data, seq: 0 }) as unknown as EngineEvent;
  view.start({ runId: 'r1', workflow: 'w', tasks: PAYLOADS.map((_, i) => `t${i}`) });
  for (const [i, p] of PAYLOADS.entries()) {
    view.event(ev('task.started', `t${i}`));
    view.log({ runId: 'r1', task: `t${i}`, item: null, attempt: 1, stream: 'stdout', at: now, line: p } as EngineLog);
    now += 100;
    view.draw();
  }
  for (const [i, p] of PAYLOADS.entries()) {
    view.event(ev('task.failed', `t${i}`, { error: { reason: 'error', message: `boom ${p}` } }));
  }
  view.note(`a note is Rivet's own text`);
  view.finish({ runId: 'r1', state: 'failed', outputs: { v: PAYLOADS[0] }, error: `task t0 failed: ${PAYLOADS[1]}` });
  const out = stdout.writes.join('');
  const rest = withoutOwnSequences(out);
  assert.doesNotMatch(rest, RAW_CONTROL, `raw control character in the live view at ${firstRaw(rest)}`);
  assert.ok(out.includes('\\x1b[2Jcleared the screen'), 'the log line was drawn (escaped)');
  assert.ok(out.includes('boom \\x1b]0;pwned title\\x07'), 'the failure was printed (escaped)');
  // Sanity: the filter keeps a payload's raw sequence (it would have caught a leak).
  assert.match(withoutOwnSequences(`${SYNC_START}\r\x1b[3A${PAYLOADS[2]}`), RAW_CONTROL);
  assert.match(withoutOwnSequences(`${SYNC_START}x\r${SYNC_END}`), RAW_CONTROL);
  const applied = newViewState();
  applyEvent(applied, ev('task.skipped', 'x', { reason: PAYLOADS[0] }));
  assert.doesNotMatch(renderFrame(applied, 200, 20, now), RAW_CONTROL);
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

test(
  'rivet run on a real terminal (a pty via script): task text never reaches it raw',
  { skip: hasScript ? false : 'util-linux script is not installed' },
  () => {
    const dir = tempDir('rivet-terminal-pty-');
    const file = join(dir, 'terminal.yaml');
    writeFileSync(file, JSON.stringify(workflow(), null, 2));
    const inputsFile = join(dir, 'inputs.json');
    writeFileSync(inputsFile, JSON.stringify({ msgs: PAYLOADS, msg: PAYLOADS.join(' '), forge: `x\n✓ forged` }));
    const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
    const command = [
      'stty cols 250 rows 60;',
      q(process.execPath),
      q(join(repo, 'bin', 'rivet.js')),
      'run',
      q(file),
      '--inputs-file',
      q(inputsFile),
      '--home',
      q(join(dir, 'home')),
      '</dev/null',
    ].join(' ');
    const r = spawnSync('script', ['-q', '-e', '-c', command, '/dev/null'], {
      cwd: repo,
      encoding: 'utf8',
      env: cleanEnv({ TERM: 'xterm-256color' }),
      timeout: 30_000,
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const out = r.stdout.replace(/\r\n/g, '\n');
    assert.ok(out.includes(SYNC_START), 'the live view drew frames');
    const rest = withoutOwnSequences(out);
    assert.doesNotMatch(rest, RAW_CONTROL, `raw control character on the terminal at ${firstRaw(rest)}`);
    assert.ok(out.includes('\\x1b[2Jcleared the screen'), 'a running task showed a payload line (escaped)');
  },
);
