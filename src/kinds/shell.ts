/**
 * The `shell` task kind: runs a script (`bash -c` or `sh -c`) or an argv list (no shell) in its own
 * process group, streams stdout and stderr line by line to the task log, and reads structured
 * results from the `$RIVET_OUTPUT` file.
 *
 * Values never become script text: each `${{ }}` in `run` (left unevaluated by the engine) is
 * replaced by `"$RIVET_ARG_<n>"` and its value travels in the environment, so no input can inject a
 * command and no secret shows in a process's command line (RELIABILITY.md 4.7, 4.8).
 *
 * The process group id and its leader's start time are checkpointed right after spawning, so the
 * next attempt can kill what an attempt of a crashed engine left running (RELIABILITY.md C4). On
 * timeout or cancel the whole group gets SIGTERM, then SIGKILL after the grace period (C5).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import { hasTemplate, parseTemplate, TemplateSyntaxError } from '../expr/template.ts';
import { shell, type shellSpec } from '../model/kinds/shell.ts';
import { spliceContexts } from '../model/shell-splice.ts';
import { killGroup, processStartTime, staleGroupAlive, terminateGroup, waitGroupGone } from './process-group.ts';
import { type Kind, type TaskContext, TaskFailure, type TaskResult } from './types.ts';

export type ShellSpec = z.output<typeof shellSpec>;

export interface ShellKindOptions {
  /** Largest `$RIVET_OUTPUT` file accepted, in bytes. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** Longer log lines are cut to this many bytes, with a marker. Default 64 KiB. */
  readonly maxLogLineBytes?: number;
  /**
   * After the main process exits, how long to keep reading stdout/stderr held open by a process it
   * left in the background, in ms. Default 1000.
   */
  readonly stdioDrainMs?: number;
}

interface ResolvedShellOptions {
  readonly maxOutputBytes: number;
  readonly maxLogLineBytes: number;
  readonly stdioDrainMs: number;
}

/** What the kind checkpoints right after spawning, for the next attempt. */
export interface ShellCheckpoint {
  readonly pgid: number;
  readonly start_time: number | null;
}

interface Command {
  readonly file: string;
  readonly args: readonly string[];
  /** `RIVET_ARG_<n>` values of the script's expressions. */
  readonly env: Readonly<Record<string, string>>;
}

interface Launch extends Command {
  readonly cwd: string;
  readonly fullEnv: Readonly<Record<string, string>>;
  readonly stdin: string | undefined;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly lastStderr: string | undefined;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_MESSAGE_CHARS = 500;

export function createShellKind(options: ShellKindOptions = {}): Kind<ShellSpec> {
  const resolved: ResolvedShellOptions = Object.freeze({
    maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
    maxLogLineBytes: options.maxLogLineBytes ?? 64 * 1024,
    stdioDrainMs: options.stdioDrainMs ?? 1000,
  });
  return {
    definition: shell,
    lateFields: [['run']],
    execute: (spec, ctx) => execute(spec, ctx, resolved),
  };
}

export const shellKind: Kind<ShellSpec> = createShellKind();

async function execute(spec: ShellSpec, ctx: TaskContext, options: ResolvedShellOptions): Promise<TaskResult> {
  if (ctx.signal.aborted) throw abortFailure(ctx);
  await killStaleGroup(ctx);
  const command = buildCommand(spec, ctx);
  const cwd = await resolveCwd(spec, ctx);
  const dir = await mkdtemp(join(tmpdir(), 'rivet-shell-'));
  try {
    const outputFile = join(dir, 'output');
    await writeFile(outputFile, '', { mode: 0o600 });
    const fullEnv = buildEnv(spec, ctx, command.env, outputFile);
    const exit = await runProcess({ ...command, cwd, fullEnv, stdin: spec.stdin }, ctx, options);
    return await settle(exit, spec, ctx, outputFile, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Before spawning: the previous attempt's group, the command, the environment, the folder.

function previousGroup(previous: unknown): ShellCheckpoint | undefined {
  if (typeof previous !== 'object' || previous === null) return undefined;
  const { pgid, start_time: startTime } = previous as Record<string, unknown>;
  if (typeof pgid !== 'number' || !Number.isSafeInteger(pgid) || pgid <= 1) return undefined;
  return { pgid, start_time: typeof startTime === 'number' ? startTime : null };
}

/** Kills the group of an earlier attempt that is still running (an engine crash left it). */
async function killStaleGroup(ctx: TaskContext): Promise<void> {
  const previous = previousGroup(ctx.previous);
  if (previous === undefined) return;
  try {
    if (!staleGroupAlive(previous.pgid, previous.start_time)) return;
    ctx.logger.line('info', `killing process group ${previous.pgid} left running by an earlier attempt`);
    killGroup(previous.pgid, 'SIGKILL');
    await waitGroupGone(previous.pgid, 10_000);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    ctx.logger.line('info', `not killing process group ${previous.pgid} of an earlier attempt: ${err.message}`);
  }
}

/** Text of a value handed to a process: strings as is, scalars as text, lists and maps as JSON. */
export function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function buildCommand(spec: ShellSpec, ctx: TaskContext): Command {
  if (spec.command !== undefined) {
    const [file, ...args] = spec.command.map(valueText);
    return { file: file!, args, env: {} };
  }
  if (spec.run === undefined) {
    throw new TaskFailure('error', 'a shell task needs run or command', { retryable: false });
  }
  const spliced = spliceScript(spec.run, ctx);
  const file = spec.shell ?? 'bash';
  // `--` keeps a script that starts with '-' from being read as options.
  return { file, args: ['-c', '--', spliced.script], env: spliced.env };
}

/**
 * Replaces each `${{ }}` of a script by `"$RIVET_ARG_<n>"` and returns the values to pass in the
 * environment. Expressions inside comments are not evaluated (a commented-out line must not fail the
 * task); any other position than a whole word is refused, as the validator does (RV408).
 */
export function spliceScript(script: string, ctx: TaskContext): { script: string; env: Record<string, string> } {
  if (!hasTemplate(script)) return { script, env: {} };
  const template = parseScript(script);
  const exprs = template.parts.flatMap((p) => (p.kind === 'expr' ? [p] : []));
  const contexts = spliceContexts(
    script,
    exprs.map((e) => e.start),
  );
  const env: Record<string, string> = {};
  let out = '';
  let n = 0;
  for (const part of template.parts) {
    if (part.kind === 'text') {
      out += part.text;
      continue;
    }
    const context = contexts[exprs.indexOf(part)];
    if (context === 'comment') {
      out += '(expression)';
    } else if (context === 'word') {
      env[`RIVET_ARG_${n}`] = valueText(evaluate(ctx, part.source));
      out += `"$RIVET_ARG_${n}"`;
      n++;
    } else {
      const where = (context ?? 'word').replace('-', ' ');
      throw new TaskFailure('expression', `run: \${{ ${part.source} }} sits inside ${where}; use env instead`, {
        retryable: false,
      });
    }
  }
  return { script: out, env };
}

function parseScript(script: string): ReturnType<typeof parseTemplate> {
  try {
    return parseTemplate(script);
  } catch (err) {
    if (!(err instanceof TemplateSyntaxError)) throw err;
    throw new TaskFailure('expression', `run: ${err.message} at offset ${err.offset}`, { retryable: false });
  }
}

function evaluate(ctx: TaskContext, source: string): unknown {
  try {
    return ctx.evaluate(`\${{ ${source} }}`, {});
  } catch (err) {
    if (err instanceof TaskFailure) throw err;
    const message = ctx.redact(err instanceof Error ? err.message : String(err));
    throw new TaskFailure('expression', `run: \${{ ${source} }}: ${message}`, { retryable: false, cause: err });
  }
}

function buildEnv(
  spec: ShellSpec,
  ctx: TaskContext,
  args: Readonly<Record<string, string>>,
  outputFile: string,
): Record<string, string> {
  const env: Record<string, string> = { ...ctx.env };
  for (const [name, value] of Object.entries(spec.env ?? {})) env[name] = valueText(value);
  return {
    ...env,
    ...args,
    RIVET_OUTPUT: outputFile,
    RIVET_ARTIFACTS: ctx.artifactsDir,
    RIVET_RUN_ID: ctx.runId,
    RIVET_TASK_ID: ctx.taskId,
    RIVET_ATTEMPT: String(ctx.attempt),
  };
}

async function resolveCwd(spec: ShellSpec, ctx: TaskContext): Promise<string> {
  const cwd = resolve(ctx.baseDir, spec.cwd === undefined ? '.' : valueText(spec.cwd));
  // Checked here because a missing cwd makes spawn fail with ENOENT, as if the command were missing.
  const info = await stat(cwd).catch(() => undefined);
  if (info === undefined) throw new TaskFailure('error', `working folder not found: ${cwd}`, { retryable: false });
  if (!info.isDirectory())
    throw new TaskFailure('error', `working folder is not a folder: ${cwd}`, { retryable: false });
  return cwd;
}

// ---------------------------------------------------------------------------------------------
// Running: spawn, checkpoint, stream the logs, wait for the exit or stop the group on abort.

async function runProcess(launch: Launch, ctx: TaskContext, options: ResolvedShellOptions): Promise<Exit> {
  const child = startChild(launch);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const logs = streamLogs(child, ctx, options.maxLogLineBytes);
  try {
    await spawned(child, launch.file);
  } catch (err) {
    logs.close();
    throw err;
  }
  child.on('error', () => {}); // later errors (a failed kill) must not crash the engine
  const pgid = child.pid!;
  let stopping: Promise<void> | undefined;
  const stop = (): void => void (stopping ??= terminateGroup(pgid, ctx.killGraceMs).catch(() => {}));
  ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    if (ctx.signal.aborted) stop(); // aborted while spawning: the listener came too late to hear it
    await checkpointGroup(ctx, pgid);
    const { code, signal } = await exited;
    await logs.drain(options.stdioDrainMs);
    if (stopping !== undefined || ctx.signal.aborted) {
      stop();
      await stopping;
      throw abortFailure(ctx);
    }
    return { code, signal, lastStderr: logs.lastStderr() };
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    logs.close();
  }
}

function startChild(launch: Launch): ChildProcess {
  try {
    const child = spawn(launch.file, launch.args, {
      cwd: launch.cwd,
      env: launch.fullEnv,
      detached: true,
      stdio: [launch.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (launch.stdin !== undefined) {
      child.stdin!.on('error', () => {}); // EPIPE when the process exits without reading it all
      child.stdin!.end(launch.stdin);
    }
    return child;
  } catch (err) {
    throw spawnFailure(err, launch.file); // invalid arguments, such as a NUL byte in a value
  }
}

function spawned(child: ChildProcess, file: string): Promise<void> {
  return new Promise((done, fail) => {
    child.once('spawn', done);
    child.once('error', (err) => fail(spawnFailure(err, file)));
  });
}

/**
 * A spawn error as a failure. The error itself is not kept as `cause`: Node's errors carry the
 * argv and the offending environment entry, which may hold secrets.
 */
function spawnFailure(err: unknown, file: string): TaskFailure {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const fail = (message: string, retryable = false): TaskFailure => new TaskFailure('error', message, { retryable });
  switch (code) {
    case 'ENOENT':
      return fail(`command not found: ${file}`);
    case 'EACCES':
      return fail(`permission denied running ${file}`);
    case 'E2BIG':
      return fail(`the command line and environment are too large to start ${file}`);
    case 'ERR_INVALID_ARG_VALUE':
    case 'ERR_INVALID_ARG_TYPE':
      return fail(`cannot start ${file}: a value holds a NUL byte or is invalid`);
    default:
      return fail(`cannot start ${file}: ${code ?? 'spawn failed'}`, true);
  }
}

/** Records the group for the next attempt; if that fails the group is stopped, as it could leak. */
async function checkpointGroup(ctx: TaskContext, pgid: number): Promise<void> {
  const state: ShellCheckpoint = { pgid, start_time: processStartTime(pgid) };
  try {
    await ctx.checkpoint(state);
  } catch (err) {
    await terminateGroup(pgid, 0);
    throw err;
  }
}

function abortFailure(ctx: TaskContext): TaskFailure {
  const timeout = ctx.signal.reason === 'timeout';
  return new TaskFailure(timeout ? 'timeout' : 'cancelled', timeout ? 'timed out' : 'cancelled', {
    retryable: timeout,
    exitCode: null,
  });
}

interface Logs {
  /** Waits for both streams to end, at most `ms` (a background process may hold them open). */
  drain(ms: number): Promise<void>;
  close(): void;
  lastStderr(): string | undefined;
}

function streamLogs(child: ChildProcess, ctx: TaskContext, maxLineBytes: number): Logs {
  let last: string | undefined;
  const out = new LineSplitter(maxLineBytes, (text) => ctx.logger.line('stdout', text));
  const err = new LineSplitter(maxLineBytes, (text) => {
    if (text.trim() !== '') last = text;
    ctx.logger.line('stderr', text);
  });
  const ends = [pipe(child.stdout!, out), pipe(child.stderr!, err)];
  return {
    async drain(ms) {
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise<void>((done) => (timer = setTimeout(done, ms)));
      await Promise.race([Promise.all(ends), cap]);
      clearTimeout(timer);
    },
    close() {
      child.stdout!.destroy();
      child.stderr!.destroy();
      out.end();
      err.end();
    },
    lastStderr: () => last,
  };
}

function pipe(stream: Readable, splitter: LineSplitter): Promise<void> {
  stream.on('data', (chunk: Buffer) => splitter.push(chunk));
  stream.on('error', () => {});
  return new Promise((done) =>
    stream.once('close', () => {
      splitter.end();
      done();
    }),
  );
}

/**
 * Splits a byte stream into lines: on \n, without a trailing \r, decoded as UTF-8 (invalid bytes
 * become U+FFFD). A line longer than `max` bytes is emitted cut, with a marker, as soon as it is
 * known to be too long; the rest of it is skipped, so memory stays bounded whatever the input.
 */
export class LineSplitter {
  readonly #max: number;
  readonly #emit: (line: string) => void;
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  #parts: Buffer[] = [];
  #size = 0;
  #skipping = false;
  #ended = false;

  constructor(max: number, emit: (line: string) => void) {
    this.#max = max;
    this.#emit = emit;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.#append(chunk.subarray(start, nl));
      this.#flush();
      start = nl + 1;
    }
    this.#append(chunk.subarray(start));
  }

  /** Emits the last line if it has no newline. Idempotent. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#size > 0) this.#flush();
  }

  #append(part: Buffer): void {
    if (this.#skipping || part.length === 0) return;
    // One byte more than the limit is kept: it may be the \r that ends a line of exactly `max` bytes.
    const room = this.#max + 1 - this.#size;
    if (part.length <= room) {
      this.#parts.push(part);
      this.#size += part.length;
      return;
    }
    this.#parts.push(part.subarray(0, room));
    this.#emit(this.#cut(Buffer.concat(this.#parts)));
    this.#reset();
    this.#skipping = true;
  }

  #flush(): void {
    if (this.#skipping) {
      this.#skipping = false;
      return;
    }
    let line = Buffer.concat(this.#parts, this.#size);
    if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    this.#emit(line.length > this.#max ? this.#cut(line) : this.#decoder.decode(line));
    this.#reset();
  }

  /** The first `max` bytes, not splitting a UTF-8 sequence, plus the marker. */
  #cut(line: Buffer): string {
    let end = this.#max;
    for (let k = 0; k < 3 && end > 0 && (line[end]! & 0xc0) === 0x80; k++) end--;
    return `${this.#decoder.decode(line.subarray(0, end))}… [line truncated at ${this.#max} bytes]`;
  }

  #reset(): void {
    this.#parts = [];
    this.#size = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// After the exit: the exit code and the $RIVET_OUTPUT file.

async function settle(
  exit: Exit,
  spec: ShellSpec,
  ctx: TaskContext,
  outputFile: string,
  options: ResolvedShellOptions,
): Promise<TaskResult> {
  if (exit.code === null) {
    const tail = exit.lastStderr === undefined ? '' : `: ${clip(ctx.redact(exit.lastStderr))}`;
    throw new TaskFailure('error', `killed by ${exit.signal ?? 'a signal'}${tail}`, { exitCode: null });
  }
  const expected = spec.expect?.exit_code ?? [0];
  const ok = Array.isArray(expected) ? expected.includes(exit.code) : expected === exit.code;
  if (!ok) {
    const tail = exit.lastStderr === undefined ? '' : `: ${clip(ctx.redact(exit.lastStderr))}`;
    const partial = await readOutput(outputFile, options.maxOutputBytes).catch(() => ({}));
    throw new TaskFailure('exit_code', `exit code ${exit.code}${tail}`, {
      exitCode: exit.code,
      result: { exit_code: exit.code, ...partial },
    });
  }
  const values = await readOutput(outputFile, options.maxOutputBytes);
  return { result: { exit_code: exit.code, ...values } };
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

/**
 * Reads `$RIVET_OUTPUT` without trusting it: the script may have replaced it by a FIFO, a symlink
 * or a file that keeps growing, so it is opened without following links or blocking, checked to be
 * a regular file within the limit, and read no further than the limit.
 */
export async function readOutput(file: string, maxBytes: number): Promise<Record<string, unknown>> {
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  const handle = await open(file, flags).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined; // the script removed it: no values
    throw new TaskFailure('error', `cannot read RIVET_OUTPUT: ${err.code ?? err.message}`, { retryable: false });
  });
  if (handle === undefined) return {};
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new TaskFailure('error', 'RIVET_OUTPUT is not a regular file', { retryable: false });
    if (info.size > maxBytes) throw outputTooLarge(maxBytes, info.size);
    // One byte more than the size: a background process may still be appending to it.
    const buffer = Buffer.alloc(Math.min(info.size, maxBytes) + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > maxBytes) throw outputTooLarge(maxBytes);
    return parseOutput(new TextDecoder().decode(buffer.subarray(0, bytesRead)));
  } finally {
    await handle.close();
  }
}

function outputTooLarge(maxBytes: number, size?: number): TaskFailure {
  const actual = size === undefined ? '' : ` (it holds ${size} bytes)`;
  return new TaskFailure(
    'limit',
    `RIVET_OUTPUT is larger than the limit of ${maxBytes} bytes${actual}; write large data to a file in $RIVET_ARTIFACTS instead`,
    { retryable: false },
  );
}

/** A JSON object as is; otherwise `key=value` lines and `key<<DELIMITER` here-documents. */
export function parseOutput(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const value: unknown = JSON.parse(trimmed);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // not JSON: read as lines, which reports where it breaks
    }
  }
  return parseOutputLines(text);
}

function parseOutputLines(text: string): Record<string, string> {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  // A Map, then fromEntries: a key such as __proto__ becomes an own property, never a prototype.
  const values = new Map<string, string>();
  const fail = (i: number, what: string): TaskFailure =>
    new TaskFailure('error', `RIVET_OUTPUT line ${i + 1}: ${what}`, { retryable: false });
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const heredoc = /^([A-Za-z_][A-Za-z0-9_]*)<<(.+)$/.exec(line);
    if (heredoc !== null) {
      const delimiter = heredoc[2]!;
      const end = lines.indexOf(delimiter, i + 1);
      if (end === -1) throw fail(i, `the value ${heredoc[1]}<<${delimiter} is not closed by a line "${delimiter}"`);
      values.set(heredoc[1]!, lines.slice(i + 1, end).join('\n'));
      i = end;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq === -1 || !IDENT_RE.test(line.slice(0, eq))) throw fail(i, 'expected key=value');
    values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return Object.fromEntries(values);
}
