/**
 * `rivet process start|stop|restart|status|logs`: processes are supervised by `rivet server`, so
 * these commands exist with a server only (`--server URL` or RIVET_SERVER, token in RIVET_TOKEN).
 * A NAME may also be a process file: its `name:` is used.
 */
import { fromText } from '../model/inputs.ts';
import { RivetError } from '../errors.ts';
import { Client, nameOf, RemoteError, seg } from './remote-client.ts';
import { followSse, outageNotes } from './remote-sse.ts';
import { EXIT } from './main.ts';
import { type Io, paint, printable, printableLine } from './output.ts';

/** A process as the API gives it (src/server/routes/processes.ts). */
interface ApiProcess {
  readonly name: string;
  readonly status: 'stopped' | 'starting' | 'ready' | 'running' | 'stopping' | 'backoff' | 'exited' | 'failed';
  readonly desired: 'running' | 'stopped';
  readonly pid: number | null;
  readonly startedAt: string | null;
  readonly readyAt: string | null;
  readonly restarts: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly lastError: string | null;
  readonly version: string;
}

interface ApiProcessLog {
  readonly seq: number;
  readonly at: string;
  readonly stream: 'stdout' | 'stderr' | 'info';
  readonly line: string;
}

export interface ProcessOptions {
  readonly server?: string;
  readonly json?: boolean;
  readonly follow?: boolean;
  readonly wait?: boolean;
  readonly lines?: number;
  /** `name=value` inputs for start and restart (text read as each input's declared type). */
  readonly input?: readonly string[];
}

function clientFor(opts: ProcessOptions): Client {
  const client = Client.fromEnv(opts.server);
  if (client === undefined) {
    throw new RivetError('RV502', 'rivet process needs a server: processes are supervised by `rivet server`', {
      hint: 'pass --server URL or set RIVET_SERVER (and RIVET_TOKEN)',
    });
  }
  return client;
}

const UP = new Set(['ready', 'running']);
const ENDED = new Set(['stopped', 'exited', 'failed']);

function statusMark(io: Io, status: string): string {
  const o = io.stdout;
  if (UP.has(status)) return paint(o, 'green', status);
  if (status === 'failed') return paint(o, 'red', status);
  if (status === 'starting' || status === 'backoff' || status === 'stopping') return paint(o, 'yellow', status);
  return paint(o, 'gray', status);
}

const clock = (iso: string): string => iso.replace('T', ' ').slice(0, 19);

function readiness(p: ApiProcess): string {
  if (p.status === 'ready' && p.readyAt !== null) return `ready since ${clock(p.readyAt)}`;
  if (p.status === 'running') return 'no readiness probe';
  if (p.status === 'starting') return 'not ready yet';
  return '-';
}

/** One line per process: name, status, pid, restarts, readiness. */
function line(io: Io, p: ApiProcess, width: number): string {
  const why = p.lastError === null || UP.has(p.status) ? '' : `  (${printableLine(p.lastError)})`;
  return (
    `${p.name.padEnd(width)}  ${statusMark(io, p.status.padEnd(8))}  pid ${String(p.pid ?? '-').padEnd(7)}  ` +
    `restarts ${String(p.restarts).padEnd(3)}  ${readiness(p)}${why}`
  );
}

function detail(io: Io, p: ApiProcess): string {
  const rows = [
    `process ${p.name}  ${statusMark(io, p.status)}`,
    `  pid       ${p.pid ?? '-'}`,
    `  restarts  ${p.restarts}`,
    `  started   ${p.startedAt === null ? '-' : clock(p.startedAt)}`,
    `  readiness ${readiness(p)}`,
    `  desired   ${p.desired}`,
  ];
  if (p.exitCode !== null || p.signal !== null)
    rows.push(`  exit      ${p.signal === null ? `code ${p.exitCode}` : `signal ${p.signal}`}`);
  if (p.lastError !== null) rows.push(`  error     ${printableLine(p.lastError)}`);
  return `${rows.join('\n')}\n`;
}

async function named<T>(client: Client, name: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (error) {
    if (error instanceof RemoteError && error.status === 404) {
      throw new RivetError('RV704', `no process ${name} on the server at ${client.url}`, {
        hint: `rivet process status --server ${client.url} lists the processes you may see`,
      });
    }
    throw error;
  }
}

/** `-i name=value` pairs as JSON values of each input's declared type (the process file's `inputs`). */
async function typedInputs(
  client: Client,
  name: string,
  pairs: readonly string[],
): Promise<Record<string, unknown> | undefined> {
  if (pairs.length === 0) return undefined;
  const wf = await named(
    client,
    name,
    client.request<{ inputs: Record<string, { type?: string }> }>('GET', `/v1/workflows/${seg(name)}`),
  );
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RivetError('RV502', `--input ${JSON.stringify(pair)}: expected name=value`);
    const key = pair.slice(0, eq);
    out[key] = fromText(wf.inputs[key]?.type ?? 'string', pair.slice(eq + 1));
  }
  return out;
}

export async function processCommand(
  action: 'start' | 'stop' | 'restart' | 'status' | 'logs',
  arg: string | undefined,
  opts: ProcessOptions,
  io: Io,
): Promise<number> {
  const client = clientFor(opts);
  if (arg === undefined) {
    if (action !== 'status') throw new RivetError('RV502', `rivet process ${action} needs a NAME`);
    const { items } = await client.request<{ items: ApiProcess[] }>('GET', '/v1/processes');
    if (opts.json === true) io.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    else if (items.length === 0) io.stdout.write(`no processes on ${client.url}\n`);
    else {
      const width = Math.max(...items.map((p) => p.name.length));
      for (const p of items) io.stdout.write(`${line(io, p, width)}\n`);
    }
    return EXIT.ok;
  }
  const { name } = nameOf(arg);
  const path = `/v1/processes/${seg(name)}`;
  switch (action) {
    case 'status': {
      const p = await named(client, name, client.request<ApiProcess>('GET', path));
      io.stdout.write(opts.json === true ? `${JSON.stringify(p, null, 2)}\n` : detail(io, p));
      return EXIT.ok;
    }
    case 'start':
    case 'restart':
    case 'stop': {
      // A stop waits for the process group to be gone (its grace period): no time limit here.
      const inputs = action === 'stop' ? undefined : await typedInputs(client, name, opts.input ?? []);
      let p = await named(
        client,
        name,
        client.request<ApiProcess>('POST', `${path}/${action}`, {
          timeoutMs: null,
          ...(inputs === undefined ? {} : { body: { inputs } }),
        }),
      );
      if (action !== 'stop' && opts.wait === true) {
        while (!UP.has(p.status) && !ENDED.has(p.status)) {
          await new Promise((r) => setTimeout(r, 200));
          p = await named(client, name, client.request<ApiProcess>('GET', path));
        }
      }
      if (opts.json === true) io.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
      else {
        const done = action === 'stop' ? 'stopped' : action === 'start' ? 'started' : 'restarted';
        io.stdout.write(`${done} ${name}\n${line(io, p, name.length)}\n`);
      }
      // A process that could not start, or ended before it was up, is a failure.
      return action !== 'stop' && (p.status === 'failed' || (opts.wait === true && !UP.has(p.status)))
        ? EXIT.failed
        : EXIT.ok;
    }
    case 'logs':
      return logs(client, name, path, opts, io);
  }
}

async function logs(client: Client, name: string, path: string, opts: ProcessOptions, io: Io): Promise<number> {
  const print = (l: ApiProcessLog): void => {
    if (opts.json === true) io.stdout.write(`${JSON.stringify(l)}\n`);
    else {
      const who = l.stream === 'info' ? 'rivet |' : `${name} |`;
      io.stdout.write(`${paint(io.stdout, 'gray', who)} ${printable(l.line)}\n`);
    }
  };
  const { items } = await named(
    client,
    name,
    client.request<{ items: ApiProcessLog[] }>('GET', `${path}/logs?limit=${opts.lines ?? 500}`),
  );
  for (const l of items) print(l);
  if (opts.follow !== true) return EXIT.ok;
  // Follows until Ctrl-C; a dropped connection (a server restart) is picked up again.
  await followSse({
    client,
    path: `${path}/logs`,
    lastEventId: String(items.at(-1)?.seq ?? 0),
    signal: new AbortController().signal,
    attempts: 120,
    onFrame: (frame) => {
      if (frame.event === 'log') print(JSON.parse(frame.data) as ApiProcessLog);
    },
    ...outageNotes((text) => io.stderr.write(`${text}\n`), client.url),
  });
  return EXIT.ok;
}
