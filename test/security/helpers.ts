/**
 * Shared harness of the end-to-end security tests (RELIABILITY.md 4.7, 4.8): the real `rivet`
 * command in a child process, a process-table sampler, and a byte-level canary scanner over
 * captured output, a RIVET_HOME folder and every row of its SQLite store.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(repo, 'bin', 'rivet.js');

export interface CliResult {
  readonly args: readonly string[];
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of the test process without anything Rivet or colours would read. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('RIVET_') || k === 'FORCE_COLOR' || k === 'NODE_TEST_CONTEXT') continue;
    env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs `rivet ARGS` as a user would (a real process, output through pipes). */
export function rivet(
  args: readonly string[],
  options: { readonly env?: Readonly<Record<string, string>>; readonly cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? repo,
      env: cleanEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        args,
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** NDJSON lines of `--json` output, parsed. */
export function ndjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

// ------------------------------------------------------------------------------ process table

/**
 * Reads `/proc/<pid>/cmdline` of every process every few ms until stopped; returns each distinct
 * command line seen (NUL separators kept as spaces). Processes that end between the listing and
 * the read are skipped.
 */
export function sampleCommandLines(intervalMs = 4): { stop(): Set<string>; samples(): number } {
  const seen = new Set<string>();
  let count = 0;
  const read = (): void => {
    count++;
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    } catch {
      return;
    }
    for (const pid of pids) {
      try {
        const raw = readFileSync(`/proc/${pid}/cmdline`);
        if (raw.length > 0) seen.add(raw.toString('utf8').replace(/\0/g, ' '));
      } catch {
        // gone already
      }
    }
  };
  const timer = setInterval(read, intervalMs);
  read();
  return {
    stop() {
      clearInterval(timer);
      read();
      return seen;
    },
    samples: () => count,
  };
}

// ------------------------------------------------------------------------------ canaries

export interface Canary {
  readonly name: string;
  readonly value: string;
}

/** The forms a value can take on its way out (RELIABILITY.md 4.8). */
export function canaryForms(value: string): Map<string, string> {
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  const forms = new Map<string, string>([
    ['raw', value],
    ['base64', b64],
    ['base64 unpadded', b64.replace(/=+$/, '')],
    ['base64url', Buffer.from(value, 'utf8').toString('base64url')],
    ['url-encoded', encodeURIComponent(value)],
    ['form-encoded', new URLSearchParams({ v: value }).toString().slice(2)],
    ['json-escaped', JSON.stringify(value).slice(1, -1)],
  ]);
  return forms;
}

export interface Sink {
  readonly name: string;
  readonly bytes: Buffer;
}

export interface Hit {
  readonly sink: string;
  readonly canary: string;
  readonly form: string;
  readonly offset: number;
  readonly context: string;
}

/** The longest runs of base64 (either alphabet) characters, at least 8 long. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;

/**
 * Every occurrence of every form of every canary in every sink, plus canaries hidden inside
 * base64 text (`Basic dXNlcjpTRUNSRVQ=` holds `SECRET` at no aligned offset of its own base64):
 * each base64 run is decoded at the four alignments and searched for the raw values.
 */
export function scan(sinks: readonly Sink[], canaries: readonly Canary[]): Hit[] {
  const hits: Hit[] = [];
  const needles = canaries.flatMap((c) =>
    [...canaryForms(c.value)].map(([form, text]) => ({ canary: c.name, form, bytes: Buffer.from(text, 'utf8') })),
  );
  const raws = canaries.map((c) => ({ canary: c.name, bytes: Buffer.from(c.value, 'utf8') }));
  for (const sink of sinks) {
    for (const n of needles) {
      for (let at = sink.bytes.indexOf(n.bytes); at !== -1; at = sink.bytes.indexOf(n.bytes, at + 1)) {
        hits.push({ sink: sink.name, canary: n.canary, form: n.form, offset: at, context: around(sink.bytes, at) });
      }
    }
    const text = sink.bytes.toString('latin1');
    for (const m of text.matchAll(BASE64_RUN)) {
      for (let shift = 0; shift < 4; shift++) {
        const decoded = Buffer.from(m[0].slice(shift), 'base64');
        for (const r of raws) {
          if (decoded.indexOf(r.bytes) !== -1) {
            hits.push({
              sink: sink.name,
              canary: r.canary,
              form: `inside base64 "${m[0].slice(0, 60)}"`,
              offset: m.index,
              context: around(sink.bytes, m.index),
            });
          }
        }
      }
    }
  }
  return dedupe(hits);
}

function dedupe(hits: Hit[]): Hit[] {
  const seen = new Set<string>();
  return hits.filter((h) => {
    const k = `${h.sink}\0${h.canary}\0${h.offset}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function around(bytes: Buffer, at: number): string {
  return JSON.stringify(bytes.subarray(Math.max(0, at - 60), at + 80).toString('utf8'));
}

export function textSink(name: string, text: string): Sink {
  return { name, bytes: Buffer.from(text, 'utf8') };
}

// ------------------------------------------------------------------------------ the data folder

/** Every file under `dir` (relative path, bytes), depth first. */
export function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() || statSync(p).isFile()) out.push({ path: relative(dir, p), bytes: readFileSync(p) });
    }
  };
  walk(dir);
  return out;
}

/** Every path (files and folders) under `dir`, relative. */
export function pathsUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      out.push(relative(dir, p));
      if (entry.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** `PRAGMA wal_checkpoint(TRUNCATE)` on the store, so the main file holds every page. */
export function checkpoint(dbFile: string): void {
  const db = new DatabaseSync(dbFile);
  try {
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** Every row of every table of a SQLite file, one sink per table (rows as JSON lines). */
export function tableSinks(dbFile: string): { sinks: Sink[]; rows: number; tables: string[] } {
  const db = new DatabaseSync(dbFile, { readOnly: true });
  try {
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]
    ).map((t) => t.name);
    let rows = 0;
    const sinks: Sink[] = [];
    for (const t of tables) {
      const all = db.prepare(`SELECT * FROM "${t.replace(/"/g, '""')}"`).all();
      rows += all.length;
      const text = all.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
      // Values as stored too (not only their JSON form), so a value's own escaping is not hidden.
      const plain = all.flatMap((r) => Object.values(r as Record<string, unknown>).map((v) => String(v)));
      sinks.push(textSink(`table ${t}`, `${text.join('\n')}\n${plain.join('\n')}`));
    }
    return { sinks, rows, tables };
  } finally {
    db.close();
  }
}

/** A path split into its components. */
export function components(path: string): string[] {
  return path.split(sep).filter((p) => p !== '');
}

/** Hits formatted for an assertion message. */
export function describeHits(hits: readonly Hit[], max = 25): string {
  const lines = hits.slice(0, max).map((h) => `  ${h.canary} (${h.form}) in ${h.sink} @${h.offset}: ${h.context}`);
  if (hits.length > max) lines.push(`  … ${hits.length - max} more`);
  return lines.join('\n');
}

/** Hits counted by canary, form and sink kind (for a readable failure message). */
export function summarizeHits(hits: readonly Hit[]): string {
  const counts = new Map<string, number>();
  for (const h of hits) {
    const sink = h.sink.replace(/ \/tmp\/\S+/g, ' …').replace(/@\d+/, '');
    const key = `${h.canary} | ${h.form.startsWith('inside base64') ? 'inside base64' : h.form} | ${sink}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `  ${n} × ${k}`).join('\n');
}

/**
 * Copies a file (the store's -wal) every few ms while it exists: SQLite removes the -wal when the
 * last connection closes, so a scan after the run would never see it. Keeps the copy taken just
 * before each time the file shrank (a checkpoint reset it) and the last one.
 */
export function snapshotFile(file: string, intervalMs = 10): { stop(): Buffer[] } {
  const kept: Buffer[] = [];
  let last: Buffer | undefined;
  const read = (): void => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch {
      return;
    }
    if (last !== undefined && bytes.length < last.length) kept.push(last);
    last = bytes;
  };
  const timer = setInterval(read, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      if (last !== undefined) kept.push(last);
      return kept;
    },
  };
}
