/**
 * Tests of the shell kind with real child processes: script and argv forms, environment, folders,
 * stdin, line-by-line logs (CRLF, invalid UTF-8, a 10 MB line), $RIVET_OUTPUT formats and limits,
 * exit codes, timeouts and cancels that kill the whole group, the stale group of a crashed attempt,
 * secrets kept out of command lines, and RELIABILITY.md 4.7 injection payloads in every position.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { groupAlive, killGroup, processAlive, processStartTime, terminateGroup } from './process-group.ts';
import { createShellKind, LineSplitter, parseOutput, shellKind, type ShellSpec } from './shell.ts';
import { type LoggedLine, makeTaskContext, type TestContextOptions, type TestTaskContext } from './test-context.ts';
import { TaskFailure } from './types.ts';

const NODE = process.execPath;
const LINUX = process.platform === 'linux';
const BASE_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
let scratch = '';
let printer = '';

before(() => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'rivet-shell-test-')));
  printer = join(scratch, 'printer.mjs');
  // Writes its arguments, the P_* environment and its folder to $RIVET_OUTPUT as JSON.
  writeFileSync(
    printer,
    `import { writeFileSync } from 'node:fs';
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('P_')));
writeFileSync(process.env.RIVET_OUTPUT, JSON.stringify({ args: process.argv.slice(2), env, cwd: process.cwd() }));
console.log(JSON.stringify(process.argv.slice(2)));
`,
  );
});
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Watched {
  readonly ctx: TestTaskContext;
  readonly lines: LoggedLine[];
  /** Resolves when a line with exactly this text is logged. */
  waitFor(text: string): Promise<void>;
}

/** A context whose env has PATH, with a logger the test can wait on. */
function watched(options: TestContextOptions = {}): Watched {
  const lines: LoggedLine[] = [];
  const waiters: { text: string; done: () => void }[] = [];
  const ctx = makeTaskContext({
    baseDir: scratch,
    ...options,
    env: { ...BASE_ENV, ...options.env },
    logger: {
      line(stream, text) {
        lines.push({ stream, text });
        for (const w of waiters.filter((w) => w.text === text)) w.done();
      },
    },
  });
  const waitFor = (text: string): Promise<void> =>
    lines.some((l) => l.text === text) ? Promise.resolve() : new Promise((done) => waiters.push({ text, done }));
  return { ctx, lines, waitFor };
}

function texts(lines: readonly LoggedLine[], stream: LoggedLine['stream']): string[] {
  return lines.filter((l) => l.stream === stream).map((l) => l.text);
}

async function run(
  spec: ShellSpec,
  options: TestContextOptions = {},
): Promise<{ result: Record<string, unknown>; w: Watched }> {
  const w = watched(options);
  const { result } = await shellKind.execute(spec, w.ctx);
  return { result, w };
}

async function failure(promise: Promise<unknown>): Promise<TaskFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof TaskFailure, `expected a TaskFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the task to fail');
}

function pgidOf(ctx: TestTaskContext): number {
  const state = ctx.checkpoints.at(-1) as { pgid: number };
  return state.pgid;
}

describe('shell kind: running scripts and commands', () => {
  test('a script runs in bash by default', async () => {
    const { result, w } = await run({ run: '[[ 1 == 1 ]] && echo "bash $0"' });
    assert.deepEqual(texts(w.lines, 'stdout'), ['bash bash']);
    assert.deepEqual(result, { exit_code: 0 });
  });

  test('shell: sh runs the script in sh', async () => {
    const { w } = await run({ run: 'echo "$0"', shell: 'sh' });
    assert.deepEqual(texts(w.lines, 'stdout'), ['sh']);
  });

  test('a script starting with - is a script, not options', async () => {
    const { w } = await run({ run: '-x 2>/dev/null; echo after' });
    assert.deepEqual(texts(w.lines, 'stdout'), ['after']);
  });

  test('command runs argv directly, without a shell', async () => {
    const { result } = await run({ command: [NODE, printer, 'a b', '$HOME', '*', '', '-x'] });
    assert.deepEqual(result.args, ['a b', '$HOME', '*', '', '-x']);
    const { w } = await run({ command: ['echo', '$(id); `id` > x'] });
    assert.deepEqual(texts(w.lines, 'stdout'), ['$(id); `id` > x']);
  });

  test('env: the context env, spec.env as text, and the RIVET_* variables', async () => {
    const script =
      'echo "$FROM_CTX|$S|$N|$B|$RIVET_RUN_ID|$RIVET_TASK_ID|$RIVET_ATTEMPT"; ' +
      '[ "$RIVET_ARTIFACTS" = "$EXPECT_ARTIFACTS" ] && echo artifacts; ' +
      '[ -f "$RIVET_OUTPUT" ] && [ ! -s "$RIVET_OUTPUT" ] && echo output-empty; echo "$(dirname "$RIVET_OUTPUT")"';
    const w = watched({ env: { FROM_CTX: 'ctx', S: 'overridden' }, attempt: 3 });
    const spec = { run: script, env: { S: 's', N: 42, B: true, EXPECT_ARTIFACTS: w.ctx.artifactsDir } };
    await shellKind.execute(spec, w.ctx);
    const [values, artifacts, output, dir] = texts(w.lines, 'stdout');
    assert.equal(values, 'ctx|s|42|true|run-1|task-1|3');
    assert.deepEqual([artifacts, output], ['artifacts', 'output-empty']);
    assert.ok(!readdirSync(tmpdir()).includes(dir!.split('/').at(-1)!), 'the output folder is removed');
    w.ctx.dispose();
  });

  test('cwd is resolved from baseDir; a missing one fails clearly', async () => {
    mkdirSync(join(scratch, 'sub dir'), { recursive: true });
    const { w } = await run({ run: 'pwd -P', cwd: 'sub dir' });
    assert.deepEqual(texts(w.lines, 'stdout'), [join(scratch, 'sub dir')]);
    const { w: w2 } = await run({ run: 'pwd -P' });
    assert.deepEqual(texts(w2.lines, 'stdout'), [scratch]);
    const f = await failure(run({ run: 'true', cwd: 'missing' }));
    assert.equal(f.reason, 'error');
    assert.equal(f.retryable, false);
    assert.match(f.message, /working folder not found: .*missing/);
  });

  test('stdin text is written to the process; without it stdin is empty', async () => {
    const { w } = await run({ run: 'cat; echo end', stdin: 'line 1\nline 2\n' });
    assert.deepEqual(texts(w.lines, 'stdout'), ['line 1', 'line 2', 'end']);
    const { w: w2 } = await run({ run: 'cat; echo end' });
    assert.deepEqual(texts(w2.lines, 'stdout'), ['end']);
    // A process that never reads its stdin does not break the task.
    const { result } = await run({ run: 'exit 0', stdin: 'x'.repeat(1 << 20) });
    assert.equal(result.exit_code, 0);
  });

  test('values of ${{ }} in run reach the script as typed text', async () => {
    const scope = { inputs: { s: 'a  b', n: 3, f: 1.5, b: true, l: [1, 'a'], m: { k: 'v' }, z: null } };
    const script =
      'printf "<%s>\\n" ${{ inputs.s }} ${{ inputs.n }} ${{ inputs.f }} ${{ inputs.b }} ${{ inputs.l }} ${{ inputs.m }} ${{ inputs.z }}';
    const { w } = await run({ run: script }, { scope });
    assert.deepEqual(texts(w.lines, 'stdout'), ['<a  b>', '<3>', '<1.5>', '<true>', '<[1,"a"]>', '<{"k":"v"}>', '<>']);
  });

  test('${{ }} in a comment is not evaluated; inside quotes it is refused', async () => {
    const { w } = await run({ run: 'echo ok # ${{ tasks.missing.outputs.x }}' });
    assert.deepEqual(texts(w.lines, 'stdout'), ['ok']);
    const f = await failure(run({ run: 'echo "x ${{ inputs.a }}"' }, { scope: { inputs: { a: 1 } } }));
    assert.equal(f.reason, 'expression');
    assert.equal(f.retryable, false);
    const g = await failure(run({ run: 'echo ${{ inputs.nope.deeper }}' }, { scope: { inputs: {} } }));
    assert.equal(g.reason, 'expression');
  });
});

describe('shell kind: logs', () => {
  test('stdout and stderr lines keep their order within each stream', async () => {
    const script = 'for i in 1 2 3 4 5; do echo "out $i"; echo "err $i" >&2; done';
    const { w } = await run({ run: script });
    assert.deepEqual(texts(w.lines, 'stdout'), ['out 1', 'out 2', 'out 3', 'out 4', 'out 5']);
    assert.deepEqual(texts(w.lines, 'stderr'), ['err 1', 'err 2', 'err 3', 'err 4', 'err 5']);
  });

  test('CRLF endings, blank lines and a last line without newline', async () => {
    const { w } = await run({ run: "printf 'a\\r\\nb\\r\\n\\r\\n\\nlast'" });
    assert.deepEqual(texts(w.lines, 'stdout'), ['a', 'b', '', '', 'last']);
  });

  test('invalid UTF-8 becomes U+FFFD; valid multi-byte text is kept', async () => {
    const { w } = await run({ run: "printf 'ok \\xc3\\xa9 \\xe2\\x82\\xac\\nbad \\xff\\xfe end\\n'" });
    assert.deepEqual(texts(w.lines, 'stdout'), ['ok é €', 'bad \ufffd\ufffd end']);
  });

  test('a 10 MB single line is cut with a marker, without holding it in memory', async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const w = watched();
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      await shellKind.execute({ run: "head -c 10485760 /dev/zero | tr '\\0' a; echo; echo after" }, w.ctx);
    } finally {
      clearInterval(sample);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const out = texts(w.lines, 'stdout');
    assert.equal(out.length, 2);
    assert.equal(out[0], `${'a'.repeat(65536)}… [line truncated at 65536 bytes]`);
    assert.equal(out[1], 'after');
    const growthMb = (peak - before) / 2 ** 20;
    // Reading it in 64 KiB chunks costs about 10 MB of short-lived buffers; holding it would cost 30.
    assert.ok(growthMb < 24, `RSS grew by ${growthMb.toFixed(1)} MB while reading a 10 MB line`);
  });

  test('LineSplitter: chunk boundaries, the \\r of a full line, UTF-8 at the cut', () => {
    const lines: string[] = [];
    const split = new LineSplitter(8, (l) => lines.push(l));
    for (const byte of Buffer.from('12345678\r\nabc\r\n123456789\nxy')) split.push(Buffer.from([byte]));
    split.end();
    split.end();
    assert.deepEqual(lines, ['12345678', 'abc', '12345678… [line truncated at 8 bytes]', 'xy']);
    const cut: string[] = [];
    const utf8 = new LineSplitter(8, (l) => cut.push(l));
    utf8.push(Buffer.from('aaaaaaa€€€\nnext\n'));
    assert.deepEqual(cut, ['aaaaaaa… [line truncated at 8 bytes]', 'next']);
  });

  test('LineSplitter: 50 MB without a newline emits one cut line', () => {
    const lines: string[] = [];
    const split = new LineSplitter(1024, (l) => lines.push(l));
    const chunk = Buffer.alloc(65536, 0x62);
    for (let i = 0; i < 800; i++) split.push(chunk);
    split.push(Buffer.from('\nz'));
    split.end();
    assert.deepEqual(lines, [`${'b'.repeat(1024)}… [line truncated at 1024 bytes]`, 'z']);
  });
});

describe('shell kind: $RIVET_OUTPUT', () => {
  test('a JSON object becomes the result, exit_code added unless set', async () => {
    const { result } = await run({ run: `echo '{"rows": 3, "list": [1], "ok": true}' > "$RIVET_OUTPUT"` });
    assert.deepEqual(result, { exit_code: 0, rows: 3, list: [1], ok: true });
    const { result: own } = await run({ run: `echo '{"exit_code": "mine"}' > "$RIVET_OUTPUT"` });
    assert.deepEqual(own, { exit_code: 'mine' });
  });

  test('key=value lines: later lines win, comments and blanks skipped, = kept in values', async () => {
    const script = 'printf \'a=1\\nb=x=y\\n# note\\n\\n   \\na=2\\r\\nempty=\\n\' > "$RIVET_OUTPUT"';
    const { result } = await run({ run: script });
    assert.deepEqual(result, { exit_code: 0, a: '2', b: 'x=y', empty: '' });
  });

  test('key<<DELIMITER here-documents hold multi-line values', async () => {
    const script = 'printf \'notes<<EOF\\nline 1\\n\\nline=3\\nEOF\\nafter=1\\n\' > "$RIVET_OUTPUT"';
    const { result } = await run({ run: script });
    assert.deepEqual(result, { exit_code: 0, notes: 'line 1\n\nline=3', after: '1' });
  });

  test('a bad line or an unclosed here-document fails with its line number', async () => {
    const bad = await failure(run({ run: 'printf \'a=1\\n\\nnot a pair\\n\' > "$RIVET_OUTPUT"' }));
    assert.equal(bad.reason, 'error');
    assert.equal(bad.retryable, false);
    assert.equal(bad.message, 'RIVET_OUTPUT line 3: expected key=value');
    assert.throws(() => parseOutput('1a=2'), /line 1: expected key=value/);
    assert.throws(() => parseOutput('x=1\nv<<END\nno end'), /line 2: .*not closed/);
  });

  test('keys such as __proto__ stay plain data', () => {
    const lines = parseOutput('__proto__=x');
    assert.equal(Object.getPrototypeOf(lines), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(lines, '__proto__')?.value, 'x');
    parseOutput('{"__proto__": {"polluted": 1}}');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('an output file over the limit fails with a clear message', async () => {
    const kind = createShellKind({ maxOutputBytes: 1000 });
    const w = watched();
    const fits = "{ printf 'k='; head -c 998 /dev/zero | tr '\\0' a; } > \"$RIVET_OUTPUT\"";
    const { result } = await kind.execute({ run: fits }, w.ctx);
    assert.equal((result.k as string).length, 998);
    const over = await failure(kind.execute({ run: 'head -c 1001 /dev/zero | tr \'\\0\' a > "$RIVET_OUTPUT"' }, w.ctx));
    assert.equal(over.reason, 'limit');
    assert.equal(over.retryable, false);
    assert.match(over.message, /larger than the limit of 1000 bytes \(it holds 1001 bytes\)/);
    const big = await failure(run({ run: 'head -c 20000000 /dev/zero > "$RIVET_OUTPUT"' }));
    assert.equal(big.reason, 'limit');
  });

  test('an output replaced by a FIFO or a symlink fails instead of blocking', async () => {
    const fifo = await failure(run({ run: 'rm "$RIVET_OUTPUT"; mkfifo "$RIVET_OUTPUT"' }));
    assert.match(fifo.message, /not a regular file/);
    const link = await failure(run({ run: 'ln -sf /dev/zero "$RIVET_OUTPUT"' }));
    assert.match(link.message, /cannot read RIVET_OUTPUT/);
    const { result } = await run({ run: 'rm "$RIVET_OUTPUT"' });
    assert.deepEqual(result, { exit_code: 0 });
  });
});

describe('shell kind: exit codes and spawn errors', () => {
  test('expect.exit_code accepts a number or a list', async () => {
    assert.equal((await run({ run: 'exit 3', expect: { exit_code: [0, 3] } })).result.exit_code, 3);
    assert.equal((await run({ run: 'exit 2', expect: { exit_code: 2 } })).result.exit_code, 2);
    const f = await failure(run({ run: 'exit 0', expect: { exit_code: [1] } }));
    assert.equal(f.exitCode, 0);
  });

  test('another exit code fails with exitCode and the last stderr line, redacted', async () => {
    const script = 'echo "k=v" > "$RIVET_OUTPUT"; echo first >&2; echo "token hunter2 rejected" >&2; echo >&2; exit 3';
    const f = await failure(run({ run: script }, { secrets: ['hunter2'] }));
    assert.equal(f.reason, 'exit_code');
    assert.equal(f.exitCode, 3);
    assert.equal(f.message, 'exit code 3: token *** rejected');
    assert.deepEqual(f.result, { exit_code: 3, k: 'v' });
  });

  test('a process killed by a signal fails with the signal name', async () => {
    const f = await failure(run({ run: 'kill -KILL $$' }));
    assert.equal(f.reason, 'error');
    assert.equal(f.exitCode, null);
    assert.match(f.message, /^killed by SIGKILL/);
  });

  test('a missing command fails without retry; a NUL byte fails clearly', async () => {
    const f = await failure(run({ command: ['rivet-no-such-command', 'x'] }));
    assert.equal(f.reason, 'error');
    assert.equal(f.retryable, false);
    assert.equal(f.message, 'command not found: rivet-no-such-command');
    const nul = await failure(run({ run: 'true', env: { BAD: 'a\0b' } }));
    assert.equal(nul.retryable, false);
    assert.match(nul.message, /NUL byte/);
    assert.equal(nul.cause, undefined, 'the error naming the value is not kept');
  });

  test('the checkpoint records the group and its leader start time', async () => {
    const { w } = await run({ run: 'echo $$' });
    const [state] = w.ctx.checkpoints as { pgid: number; start_time: number | null }[];
    assert.equal(String(state!.pgid), texts(w.lines, 'stdout')[0]);
    assert.ok(process.platform !== 'linux' || typeof state!.start_time === 'number');
  });

  test('a failed checkpoint stops the group and fails the task', async () => {
    let pgid = 0;
    const checkpoint = async (state: unknown): Promise<void> => {
      pgid = (state as { pgid: number }).pgid;
      throw new Error('store down');
    };
    await assert.rejects(run({ run: 'sleep 1000 & sleep 1000' }, { checkpoint }), /store down/);
    assert.ok(pgid > 1);
    assert.equal(groupAlive(pgid), false);
  });

  test('a background process on success is left alone, even holding stdout open', async () => {
    const kind = createShellKind({ stdioDrainMs: 50 });
    const w = watched();
    await kind.execute({ run: 'sleep 1000 & echo $!' }, w.ctx);
    const pid = Number(texts(w.lines, 'stdout')[0]);
    try {
      assert.ok(processAlive(pid));
    } finally {
      killGroup(pgidOf(w.ctx), 'SIGKILL');
    }
  });
});

describe('shell kind: timeout, cancel and the group of an earlier attempt', () => {
  const IGNORES_TERM = "trap '' TERM; sleep 1000 & echo $!; echo ready; wait; wait";

  test('a timeout kills the whole group, SIGTERM ignored, within grace + 1 s', async () => {
    const grace = 300;
    const w = watched({ killGraceMs: grace });
    const done = failure(shellKind.execute({ run: IGNORES_TERM }, w.ctx));
    await w.waitFor('ready');
    const started = performance.now();
    w.ctx.abort('timeout');
    const f = await done;
    const elapsed = performance.now() - started;
    assert.equal(f.reason, 'timeout');
    const pgid = pgidOf(w.ctx);
    const grandchild = Number(texts(w.lines, 'stdout')[0]);
    assert.equal(groupAlive(pgid), false);
    assert.equal(processAlive(grandchild), false);
    assert.ok(elapsed >= grace - 50 && elapsed <= grace + 1000, `stopped after ${elapsed.toFixed(0)} ms`);
  });

  test('a cancel stops the group too, and reports cancelled', async () => {
    const w = watched({ killGraceMs: 100 });
    const done = failure(shellKind.execute({ run: IGNORES_TERM }, w.ctx));
    await w.waitFor('ready');
    w.ctx.abort('cancelled');
    const f = await done;
    assert.equal(f.reason, 'cancelled');
    assert.equal(groupAlive(pgidOf(w.ctx)), false);
  });

  test('a task aborted before it starts spawns nothing', async () => {
    const w = watched();
    w.ctx.abort('cancelled');
    const f = await failure(shellKind.execute({ run: 'echo never' }, w.ctx));
    assert.equal(f.reason, 'cancelled');
    assert.deepEqual(w.ctx.checkpoints, []);
    assert.deepEqual(w.lines, []);
  });

  /** A detached group like an earlier attempt's: a leader and a background grandchild. */
  async function strayGroup(): Promise<{ leader: ChildProcess; pgid: number; grandchild: number }> {
    const leader = spawn('bash', ['-c', 'sleep 1000 & echo $!; wait'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [chunk] = (await once(leader.stdout!, 'data')) as [Buffer];
    return { leader, pgid: leader.pid!, grandchild: Number(chunk.toString().trim()) };
  }

  test('the live group of an earlier attempt is killed before the new process starts', async () => {
    const stray = await strayGroup();
    try {
      const previous = { pgid: stray.pgid, start_time: processStartTime(stray.pgid) };
      const { w } = await run({ run: 'echo new' }, { previous });
      assert.equal(groupAlive(stray.pgid), false);
      assert.equal(processAlive(stray.grandchild), false);
      assert.ok(texts(w.lines, 'info').some((t) => t.includes(`process group ${stray.pgid}`)));
      assert.deepEqual(texts(w.lines, 'stdout'), ['new']);
      assert.notEqual(pgidOf(w.ctx), stray.pgid);
    } finally {
      killGroup(stray.pgid, 'SIGKILL');
    }
  });

  test('orphans of an earlier attempt whose leader died are killed too', async () => {
    const stray = await strayGroup();
    try {
      const startTime = processStartTime(stray.pgid);
      stray.leader.kill('SIGKILL');
      await once(stray.leader, 'exit');
      assert.ok(groupAlive(stray.pgid), 'the grandchild outlives its leader');
      const { w } = await run({ run: 'true' }, { previous: { pgid: stray.pgid, start_time: startTime } });
      assert.equal(groupAlive(stray.pgid), false);
      assert.equal(texts(w.lines, 'info').length, 1);
    } finally {
      killGroup(stray.pgid, 'SIGKILL');
    }
  });

  test('a live leader with another start time is a reused pid: left alone', { skip: !LINUX }, async () => {
    const stray = await strayGroup();
    try {
      const previous = { pgid: stray.pgid, start_time: (processStartTime(stray.pgid) ?? 0) + 1 };
      const { w } = await run({ run: 'true' }, { previous });
      assert.equal(groupAlive(stray.pgid), true);
      assert.deepEqual(texts(w.lines, 'info'), []);
    } finally {
      await terminateGroup(stray.pgid, 0);
    }
  });

  test('process-group helpers refuse group 0, 1 and the engine own group', () => {
    assert.throws(() => killGroup(0, 'SIGKILL'), RangeError);
    assert.throws(() => killGroup(1, 'SIGKILL'), RangeError);
    assert.throws(() => groupAlive(process.pid), RangeError);
  });
});

describe('shell kind: secrets', () => {
  test('a secret in run reaches the process but never a command line', { skip: !LINUX }, async () => {
    const canary = `canary-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const w = watched({ scope: { secrets: { TOKEN: canary } }, secrets: [canary], killGraceMs: 100 });
    const script = 'v=${{ secrets.TOKEN }}; [ -n "$v" ] && echo ready; sleep 1000; echo "$v"';
    const done = failure(shellKind.execute({ run: script }, w.ctx));
    await w.waitFor('ready');
    const pgid = pgidOf(w.ctx);
    try {
      assert.match(readFileSync(`/proc/${pgid}/environ`, 'latin1'), new RegExp(canary), 'the value is in the env');
      const leaks = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(canary);
          } catch {
            return false;
          }
        });
      assert.deepEqual(leaks, []);
    } finally {
      w.ctx.abort('cancelled');
      await done;
    }
    assert.ok(!JSON.stringify(w.ctx.checkpoints).includes(canary));
    assert.ok(!JSON.stringify(w.lines).includes(canary));
  });
});

describe('shell kind: injection payloads (RELIABILITY.md 4.7)', () => {
  // A fresh folder per position, so that a leak in one position does not fail the others.
  let canary = '';
  let positions = 0;
  beforeEach(() => {
    canary = join(scratch, `canary-${positions++}`);
    mkdirSync(canary);
  });

  function payloads(): string[] {
    const actions = [
      'touch $CANARY/x',
      'touch "$CANARY/x"',
      "touch '$CANARY'/x",
      'touch${IFS}$CANARY/x',
      `touch ${canary}/abs`,
      '{touch,$CANARY/x}',
      "node -e \"require('fs').writeFileSync(process.env.CANARY+'/n','')\"",
    ];
    const wraps: ((a: string) => string)[] = [
      (a) => a,
      (a) => `"; ${a} #`,
      (a) => `'; ${a} #`,
      (a) => `$(${a})`,
      (a) => `\`${a}\``,
      (a) => `; ${a}`,
      (a) => `&& ${a}`,
      (a) => `|| ${a}`,
      (a) => `| ${a}`,
      (a) => `\n${a}\n`,
      (a) => `\r\n${a}\r`,
      (a) => `x"; ${a}; echo "`,
      (a) => `x'; ${a}; echo '`,
      (a) => `\\"; ${a} #`,
      (a) => `"$(${a})"`,
      (a) => `'$(${a})'`,
      (a) => `\${IFS}${a.replaceAll(' ', '${IFS}')}`,
      (a) => `$'\\n${a}'`,
      (a) => `& ${a} &`,
      (a) => `> >(${a})`,
      (a) => `<(${a})`,
      (a) => `"\`${a}\`"`,
      (a) => `-- ; ${a}`,
      (a) => `\${x:-$(${a})}`,
      (a) => `$((1))$(${a})`,
      (a) => `é ${a} 日本 🎉`,
    ];
    const out = actions.flatMap((a) => wraps.map((w) => w(a)));
    out.push(
      ...['*', '?', '[a-z]*', '/*', '~', '~root', '$HOME', '${HOME}', '$PATH', '$0', '$$', '$@', '$*', '$1'],
      ...['-', '--', '-rf', '--help', '-e', '--version', '-c', '-x', '--output=/tmp/x', '-n'],
      ...['', ' ', '  leading and trailing  ', '\t', '\n', '\r', '\r\n', 'a\nb', 'a\\nb', '\\', '\\\\', "'", '"'],
      ...['"\'"\'', '${{ inputs.x }}', '$RIVET_ARG_0', '"$RIVET_ARG_0"', '$RIVET_OUTPUT', '%s%n%x', '{}', '[]'],
      ...['é', 'naïve café', '日本語', '🎉🚀', '\u202e\u0301', 'Ω≈ç√', '\u00a0nbsp', '\ufeffbom', 'null', 'true'],
      ...['a'.repeat(100_000), 'é'.repeat(20_000), '$(touch $CANARY/x)'.repeat(3000), `${'\\'.repeat(999)}"`],
      ...['!!', '!-1', '^foo^bar', 'a=b c=d', 'IFS=x', '#', '# comment', ';', '&', '|', '&&', '||', '>', '<', '>>'],
    );
    return out;
  }

  function batches(values: readonly string[], size: number): string[][] {
    const out: string[][] = [];
    for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
    return out;
  }

  function assertNoCanaryFiles(): void {
    assert.deepEqual(readdirSync(canary), []);
  }

  test('the payload list has at least 200 distinct entries', () => {
    const list = payloads();
    assert.ok(new Set(list).size >= 200, `${new Set(list).size} payloads`);
  });

  test('as whole ${{ }} words in run', async () => {
    for (const batch of batches(payloads(), 60)) {
      const inputs = Object.fromEntries(batch.map((p, i) => [`p${i}`, p]));
      const words = batch.map((_, i) => `\${{ inputs.p${i} }}`).join(' ');
      const env = { CANARY: canary, NODE_BIN: NODE, PRINTER: printer };
      const { result } = await run({ run: `"$NODE_BIN" "$PRINTER" ${words}` }, { scope: { inputs }, env });
      assert.deepEqual(result.args, batch);
    }
    assertNoCanaryFiles();
  });

  test('as env values', async () => {
    for (const batch of batches(payloads(), 60)) {
      const env = Object.fromEntries(batch.map((p, i) => [`P_${i}`, p]));
      const { result } = await run({ command: [NODE, printer], env }, { env: { CANARY: canary } });
      assert.deepEqual(result.env, env);
      // The same values used by a script, quoted as scripts should quote them.
      const script = batch.map((_, i) => `printf '%s' "$P_${i}" > /dev/null`).join('\n');
      await run({ run: script, env }, { env: { CANARY: canary } });
    }
    assertNoCanaryFiles();
  });

  test('as command argv elements, never through a shell', async () => {
    for (const batch of batches(payloads(), 60)) {
      const { result } = await run({ command: [NODE, printer, ...batch] }, { env: { CANARY: canary } });
      assert.deepEqual(result.args, batch);
    }
    assertNoCanaryFiles();
  });

  test('as cwd folder names', async () => {
    const base = join(scratch, 'cwd');
    // Usable as a relative path: not absolute, no parent steps, no empty or overlong parts.
    const usable = payloads().filter(
      (p) =>
        p !== '' &&
        !p.startsWith('/') &&
        p.length < 3000 &&
        p.split('/').every((part) => part !== '..' && Buffer.byteLength(part) <= 255),
    );
    assert.ok(usable.length >= 150, `${usable.length} cwd payloads`);
    const script = 'p=$(pwd -P; printf x); p=${p%$\'\\nx\'}; [ "$p" = "$EXPECTED" ] || { echo "got $p" >&2; exit 9; }';
    const one = async (p: string): Promise<void> => {
      const dir = resolve(base, p);
      mkdirSync(dir, { recursive: true });
      await run({ run: script, cwd: p, env: { EXPECTED: dir } }, { baseDir: base, env: { CANARY: canary } });
    };
    for (const batch of batches(usable, 8)) await Promise.all(batch.map(one));
    assertNoCanaryFiles();
  });
});
