/**
 * Engine figures (issue 4), each beside its baseline measured in the same run:
 * - a 10,000-task layered noop DAG run by the whole `rivet run` process, beside the same number
 *   of raw SQLite transactions with the same rows (the physical floor);
 * - a 40-task chain of fib(10) plugin tasks (per-task overhead), and the same chain of shell
 *   tasks running `node -e` (process spawning, separately);
 * - 1,000 http GETs with concurrency 50, beside a bare fetch loop at the same concurrency;
 * - cold start of `rivet run` for a one-task workflow and `rivet --version`, beside `node -e 0`.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { Engine } from '../src/engine/engine.ts';
import { KindRegistry, loadPlugin } from '../src/kinds/registry.ts';
import { validateWorkflowText } from '../src/model/index.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { type Figure, median, time, timeProcess } from './harness.ts';
import { fib } from './fib-plugin.ts';
import { layeredWorkflow } from './validate.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const rivet = join(root, 'bin/rivet.js');

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'rivet-bench-'));
}

/** Wall ms and peak RSS (MB) of one process, through /usr/bin/time when it exists. */
function measureProcess(args: readonly string[], env: NodeJS.ProcessEnv): { ms: number; rssMb: number | null } {
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ms = performance.now() - t;
  if (r.error !== undefined || r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  const kb = Number(r.stderr.trim().split('\n').at(-1));
  return { ms, rssMb: Number.isFinite(kb) ? kb / 1024 : null };
}

function rawTransactions(count: number, rowsPerTx: number): number {
  const dir = tmp();
  const db = new DatabaseSync(join(dir, 'floor.db'));
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL');
  db.exec(
    'CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, type TEXT, task TEXT, item INTEGER, attempt INTEGER, at INTEGER, data TEXT) STRICT',
  );
  const insert = db.prepare(
    'INSERT INTO events (run_id, type, task, item, attempt, at, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    db.exec('BEGIN IMMEDIATE');
    for (let j = 0; j < rowsPerTx; j++)
      insert.run('run', 'task.succeeded', `t${j}`, null, 1, Date.now(), '{"outputs":{}}');
    db.exec('COMMIT');
  }
  const ms = performance.now() - t;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

/** Counts the transactions and event rows of a finished run in a store file. */
function storeShape(dbFile: string): { events: number } {
  const db = new DatabaseSync(dbFile, { readOnly: true });
  const row = db.prepare('SELECT count(*) AS n FROM events').get() as { n: number };
  db.close();
  return { events: Number(row.n) };
}

export async function layeredFigures(): Promise<Figure[]> {
  const dir = tmp();
  const file = join(dir, 'layered.yaml');
  writeFileSync(file, layeredWorkflow(100, 100));
  const args = [rivet, 'run', file, '--concurrency', '1000'];
  const fresh: { ms: number; rssMb: number | null }[] = [];
  const again: { ms: number; rssMb: number | null }[] = [];
  let events = 0;
  for (let i = 0; i < 5; i++) {
    // A fresh store validates the file; a second run in the same store reuses the validated version.
    const home = join(dir, `home${i}`);
    fresh.push(measureProcess(args, { ...process.env, RIVET_HOME: home }));
    again.push(measureProcess(args, { ...process.env, RIVET_HOME: home }));
    events = storeShape(join(home, 'rivet.db')).events / 2;
  }
  rmSync(dir, { recursive: true, force: true });
  const freshMs = median(fresh.map((s) => s.ms));
  const againMs = median(again.map((s) => s.ms));
  const rss = Math.max(...fresh.map((s) => s.rssMb ?? 0));
  // The floor: as many raw transactions as the engine committed for this run (counted in-process).
  const { writes } = await runInProcess(layeredWorkflow(100, 100), new KindRegistry(), 1000, { label: 'bench' });
  const floor = median([0, 1, 2].map(() => rawTransactions(writes, Math.ceil(events / writes))));
  const baseline = { name: `${writes} SQLite transactions with the same ${events} rows`, value: floor };
  return [
    {
      name: '10k-task noop DAG, whole `rivet run` process, first run (validates)',
      value: freshMs,
      unit: 'ms',
      baseline,
      goal: '<= 500 ms',
    },
    {
      name: '10k-task noop DAG, whole `rivet run` process, run again (validated version reused)',
      value: againMs,
      unit: 'ms',
      baseline,
      goal: '<= 500 ms',
    },
    { name: '10k-task noop DAG throughput, run again', value: 10_000 / (againMs / 1000), unit: 'tasks/s' },
    { name: '10k-task noop DAG peak RSS (first run)', value: rss, unit: 'MB' },
  ];
}

/** A SqliteStore that counts its write transactions (the engine's batches). */
class CountingStore extends SqliteStore {
  writes = 0;
  override async write(...args: Parameters<SqliteStore['write']>): Promise<void> {
    this.writes++;
    await super.write(...args);
  }
}

async function runInProcess(
  yaml: string,
  kinds: KindRegistry,
  capacity = 64,
  inputs: Record<string, unknown> = {},
): Promise<{ ms: number; writes: number }> {
  const dir = tmp();
  const r = validateWorkflowText(yaml, { kinds: kinds.definitions });
  if (r.workflow === undefined) throw new Error(JSON.stringify(r.diagnostics));
  const store = new CountingStore(join(dir, 'rivet.db'));
  const engine = new Engine({ store, kinds, artifactsRoot: join(dir, 'artifacts'), capacity });
  const t = performance.now();
  const h = await engine.startRun({
    source: { workflow: r.workflow, version: 'bench', file: join(dir, 'wf.yaml'), source: yaml },
    inputs,
  });
  const outcome = await h.done;
  const ms = performance.now() - t;
  await engine.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (outcome.state !== 'succeeded') throw new Error(`bench run ${outcome.state}: ${outcome.error}`);
  return { ms, writes: store.writes };
}

function chain(n: number, task: (i: number) => string): string {
  const lines = ['name: bench_chain', 'tasks:'];
  for (let i = 0; i < n; i++) lines.push(`  t${i}:`, ...(i > 0 ? [`    needs: [t${i - 1}]`] : []), `    ${task(i)}`);
  return `${lines.join('\n')}\n`;
}

export async function chainFigures(): Promise<Figure[]> {
  const kinds = new KindRegistry();
  await loadPlugin(kinds, join(root, 'bench/fib-plugin.ts'));
  const fibYaml = chain(40, () => 'fib: { n: 10 }');
  const samples: number[] = [];
  for (let i = 0; i < 9; i++) samples.push((await runInProcess(fibYaml, kinds)).ms);
  const wall = median(samples.slice(2));
  const compute = time(() => {
    for (let i = 0; i < 40; i++) fib(10);
  });
  const shellYaml = chain(40, () => `shell: { command: [${JSON.stringify(process.execPath)}, -e, "0"] }`);
  const shellSamples: number[] = [];
  for (let i = 0; i < 3; i++) shellSamples.push((await runInProcess(shellYaml, kinds)).ms);
  const spawn = time(
    () => {
      for (let i = 0; i < 40; i++) spawnSync(process.execPath, ['-e', '0']);
    },
    3,
    1,
  );
  return [
    {
      name: '40-task fib(10) chain, durable, total wall',
      value: wall,
      unit: 'ms',
      baseline: { name: '40 x fib(10) computed inline', value: compute },
    },
    {
      name: '40-task fib(10) chain, engine overhead per task',
      value: (wall - compute) / 40,
      unit: 'ms',
      goal: '<= 0.2 ms',
    },
    {
      name: '40-task shell `node -e 0` chain, total wall',
      value: median(shellSamples),
      unit: 'ms',
      baseline: { name: '40 x spawnSync node -e 0', value: spawn },
    },
  ];
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function fetchLoop(url: string, total: number, concurrency: number): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const r = await fetch(url);
        await r.json();
      }
    }),
  );
  return performance.now() - t;
}

export async function httpFigures(): Promise<Figure[]> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}/item`;
  const kinds = new KindRegistry();
  const yaml = [
    'name: bench_http',
    'tasks:',
    '  get:',
    '    for_each: ${{ range }}'.replace('${{ range }}', JSON.stringify(Array.from({ length: 1000 }, (_, i) => i))),
    '    concurrency: 50',
    `    http: { url: "${url}?i=\${{ item }}" }`,
  ].join('\n');
  const engineMs: number[] = [];
  const loopMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    loopMs.push(await fetchLoop(url, 1000, 50));
    engineMs.push((await runInProcess(yaml, kinds, 50)).ms);
  }
  server.close();
  const e = median(engineMs.slice(1));
  const l = median(loopMs.slice(1));
  return [
    {
      name: '1,000 http GET tasks, concurrency 50',
      value: 1000 / (e / 1000),
      unit: 'req/s',
      baseline: { name: 'bare fetch loop, concurrency 50', value: 1000 / (l / 1000) },
      goal: 'ratio >= 0.7',
    },
  ];
}

export function startFigures(): Figure[] {
  const dir = tmp();
  const file = join(dir, 'one.yaml');
  writeFileSync(file, 'name: one\ntasks:\n  only: { noop: }\n');
  let n = 0;
  const run = timeProcess([rivet, 'run', file], 7, () => ({ ...process.env, RIVET_HOME: join(dir, `h${n++}`) }));
  const version = timeProcess([rivet, '--version']);
  const bare = timeProcess(['-e', '0']);
  rmSync(dir, { recursive: true, force: true });
  return [
    {
      name: '`rivet run` one-task workflow, cold process',
      value: run,
      unit: 'ms',
      baseline: { name: 'node -e 0', value: bare },
      goal: '<= 200 ms',
    },
    {
      name: '`rivet --version`',
      value: version,
      unit: 'ms',
      baseline: { name: 'node -e 0', value: bare },
      goal: '<= 100 ms',
    },
  ];
}
