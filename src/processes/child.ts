/**
 * Starting one run of a supervised process and reading its output: spawning into a new process
 * group, turning spawn errors into messages that are safe to show, and splitting both pipes into
 * lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { MAX_LOG_LINE } from '../engine/support.ts';
import { LineSplitter } from '../kinds/shell.ts';
import type { ResolvedProcess } from './spec.ts';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Launched {
  readonly child: ChildProcess;
  /** The group id: the child leads a group of its own. */
  readonly pgid: number;
  readonly exited: Promise<ExitStatus>;
}

/** A failure to start, with a message fit for logs and the API. */
export class LaunchError extends Error {}

export async function launch(config: ResolvedProcess, baseEnv: Readonly<Record<string, string>>): Promise<Launched> {
  // Checked first because a missing cwd makes spawn fail with ENOENT, as if the command were missing.
  const folder = await stat(config.cwd).catch(() => undefined);
  if (folder === undefined || !folder.isDirectory()) throw new LaunchError(`folder not found: ${config.cwd}`);
  let child: ChildProcess;
  try {
    child = spawn(config.command, config.args, {
      cwd: config.cwd,
      env: { ...baseEnv, ...config.env },
      detached: true, // its own process group, so a stop reaches its children too
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    throw new LaunchError(spawnMessage(err, config.command)); // a NUL byte in an argument
  }
  const started = child;
  const exited = new Promise<ExitStatus>((done) => started.once('exit', (code, signal) => done({ code, signal })));
  try {
    await new Promise((done, fail) => {
      started.once('spawn', done);
      started.once('error', fail);
    });
  } catch (err) {
    child.stdout?.destroy();
    child.stderr?.destroy();
    throw new LaunchError(spawnMessage(err, config.command));
  }
  child.on('error', () => {}); // a later error (a failed kill) must not crash the server
  return { child, pgid: child.pid!, exited };
}

/** Node's own errors are not shown: they carry the argv and the environment, which may hold secrets. */
function spawnMessage(err: unknown, command: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `command not found: ${command}`;
    case 'EACCES':
      return `permission denied running ${command}`;
    case 'E2BIG':
      return `the command line and environment are too large to start ${command}`;
    case 'ERR_INVALID_ARG_VALUE':
    case 'ERR_INVALID_ARG_TYPE':
      return `cannot start ${command}: a value holds a NUL byte or is invalid`;
    default:
      return `cannot start ${command}: ${code ?? 'spawn failed'}`;
  }
}

export interface Output {
  /** Waits for both pipes to close, at most `ms` (a background process may hold them open). */
  drain(ms: number): Promise<void>;
  close(): void;
}

/** Emits each line of stdout and stderr; lines over MAX_LOG_LINE bytes are cut with a marker. */
export function readLines(child: ChildProcess, emit: (stream: 'stdout' | 'stderr', line: string) => void): Output {
  const out = new LineSplitter(MAX_LOG_LINE, (line) => emit('stdout', line));
  const err = new LineSplitter(MAX_LOG_LINE, (line) => emit('stderr', line));
  const ends = [pipe(child.stdout!, out), pipe(child.stderr!, err)];
  return {
    async drain(ms) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(ends), new Promise((done) => (timer = setTimeout(done, ms)))]);
      clearTimeout(timer);
    },
    close() {
      child.stdout!.destroy();
      child.stderr!.destroy();
      out.end();
      err.end();
    },
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
