/**
 * The server's settings: defaults, then the config file, then `RIVET_*` environment variables,
 * then flags; checked once and frozen (STYLE habit 3). A bad value stops the start with RV701,
 * naming the setting, where it came from and what is expected.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { load } from 'js-yaml';
import { z } from 'zod';
import { RivetError } from '../errors.ts';
import { parseDuration } from '../model/duration.ts';
import { parseToken } from './auth.ts';

export interface ServerConfig {
  /** Host and port to listen on. */
  readonly host: string;
  readonly port: number;
  /** Where the store, artifacts, uploaded workflows, vars and secrets live. */
  readonly data: string;
  /** A folder of workflow and process files, watched for changes (null: uploads only). */
  readonly workflows: string | null;
  /** Largest request body in bytes (413 above it). */
  readonly bodyLimit: number;
  /** Most event streams (SSE) open at once per token (429 above it). */
  readonly ssePerToken: number;
  /** How long a stop waits for running tasks before leaving them to recovery. */
  readonly shutdownGraceMs: number;
  /** Most tasks running at once, and per run. */
  readonly concurrency: number;
  readonly runConcurrency: number | null;
  /** Between SIGTERM and SIGKILL when a task's processes are stopped. */
  readonly killGraceMs: number;
  /** Origins allowed by CORS; none by default. */
  readonly corsOrigins: readonly string[];
  /** SQLite durability: FULL survives power loss, NORMAL process crashes only. */
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Whether /metrics answers without a token. */
  readonly metricsPublic: boolean;
  /** The first admin's token, given instead of a printed one (RIVET_ADMIN_TOKEN). */
  readonly adminToken: string | null;
  readonly plugins: readonly string[];
  /** Deployment variables and secrets files (default `<data>/vars.yaml`, `<data>/secrets.yaml`). */
  readonly varsFile: string | null;
  readonly secretsFile: string | null;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

function size(v: unknown): number | string {
  if (typeof v === 'number') return v;
  const m = SIZE.exec(String(v).trim());
  return m === null ? String(v) : Math.round(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

function duration(v: unknown): number | string {
  if (typeof v === 'number') return v;
  const ms = parseDuration(String(v));
  return ms ?? String(v);
}

const intOf = (v: unknown): unknown => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
const listOf = (v: unknown): unknown =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : v;
const boolOf = (v: unknown): unknown => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v);

const schema = z.strictObject({
  listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected HOST:PORT, e.g. 127.0.0.1:8080'),
  data: z.string().min(1),
  workflows: z.string().min(1).nullable(),
  body_limit: z.preprocess(
    size,
    z
      .int('expected a size such as 1MiB or 262144')
      .min(1024)
      .max(1024 ** 3),
  ),
  sse_per_token: z.preprocess(intOf, z.int().min(1).max(10_000)),
  shutdown_grace: z.preprocess(duration, z.number('expected a duration such as 30s').min(0)),
  concurrency: z.preprocess(intOf, z.int().min(1).max(10_000)),
  run_concurrency: z.preprocess(intOf, z.int().min(1).max(10_000).nullable()),
  kill_grace: z.preprocess(duration, z.number('expected a duration such as 10s').min(0)),
  cors_origins: z.preprocess(listOf, z.array(z.url())),
  synchronous: z.enum(['FULL', 'NORMAL']),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  metrics_public: z.preprocess(boolOf, z.boolean()),
  // `:`-separated like the CLI's RIVET_PLUGINS (and PATH); `,` works too.
  plugins: z.preprocess((v) => (typeof v === 'string' ? listOf(v.replaceAll(':', ',')) : v), z.array(z.string())),
  vars_file: z.string().min(1).nullable(),
  secrets_file: z.string().min(1).nullable(),
});

type Raw = Record<string, unknown>;

export const DEFAULTS: Raw = {
  listen: '127.0.0.1:8080',
  data: '.rivet',
  workflows: null,
  body_limit: '1MiB',
  sse_per_token: 20,
  shutdown_grace: '30s',
  concurrency: 32,
  run_concurrency: null,
  kill_grace: '10s',
  cors_origins: [],
  synchronous: 'FULL',
  log_level: 'info',
  metrics_public: false,
  plugins: [],
  vars_file: null,
  secrets_file: null,
};

/** Each setting's environment variable: RIVET_ plus its name in capitals. */
const ENV_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.keys(DEFAULTS).map((k) => [k, `RIVET_${k.toUpperCase()}`]),
);

export interface ConfigSources {
  readonly file?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Settings from flags, by setting name (`listen`, `data`, `workflows`...). */
  readonly flags: Raw;
}

function readConfigFile(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RivetError('RV701', `cannot read the config file ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
  let data: unknown;
  try {
    data = load(text);
  } catch (error) {
    throw new RivetError('RV701', `${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new RivetError('RV701', `${file} must be a mapping of setting: value`);
  }
  return data as Raw;
}

export function resolveServerConfig(sources: ConfigSources): ServerConfig {
  const origin: Record<string, string> = {};
  const raw: Raw = { ...DEFAULTS };
  for (const k of Object.keys(raw)) origin[k] = 'default';
  if (sources.file !== undefined) {
    for (const [k, v] of Object.entries(readConfigFile(sources.file))) {
      raw[k] = v;
      origin[k] = sources.file;
    }
  }
  if (sources.env.RIVET_HOME !== undefined && sources.env.RIVET_DATA === undefined) {
    raw.data = sources.env.RIVET_HOME;
    origin.data = 'RIVET_HOME';
  }
  for (const [k, name] of Object.entries(ENV_NAMES)) {
    const v = sources.env[name];
    if (v === undefined || v === '') continue;
    raw[k] = v;
    origin[k] = name;
  }
  for (const [k, v] of Object.entries(sources.flags)) {
    if (v === undefined) continue;
    raw[k] = v;
    origin[k] = `--${k.replaceAll('_', '-')}`;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const known = Object.keys(DEFAULTS).join(', ');
    const from = (key: string): string => origin[key] ?? 'the config file';
    // An unknown setting is reported on its own line with the file (or flag) it came from.
    const lines = parsed.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => `${k} (from ${from(k)}): unknown setting (known: ${known})`)
        : [`${String(i.path[0] ?? '')} (from ${from(String(i.path[0] ?? ''))}): ${i.message}`],
    );
    throw new RivetError('RV701', `the server configuration is not valid:\n  ${lines.join('\n  ')}`, {
      hint: 'see docs/deploy.md for every setting, its default and its environment variable',
    });
  }
  const c = parsed.data;
  const colon = c.listen.lastIndexOf(':');
  const port = Number(c.listen.slice(colon + 1));
  if (port > 65535) throw new RivetError('RV701', `listen (from ${origin.listen}): port ${port} is over 65535`);
  const adminToken = sources.env.RIVET_ADMIN_TOKEN;
  // Checked here, before anything is opened, and on every start (not only the first): a typo
  // would otherwise go unnoticed until the token is refused. The value is never echoed.
  if (adminToken !== undefined && adminToken !== '' && parseToken(adminToken) === null) {
    throw new RivetError(
      'RV701',
      'RIVET_ADMIN_TOKEN (from the environment) is not a Rivet token: expected rvt_<16 lowercase letters or digits>.<43 base64url characters>',
      { hint: 'leave it unset and the server prints a new token on its first start' },
    );
  }
  return Object.freeze({
    host: c.listen.slice(0, colon).replace(/^\[|\]$/g, ''),
    port,
    data: resolve(c.data),
    workflows: c.workflows === null ? null : resolve(c.workflows),
    bodyLimit: c.body_limit,
    ssePerToken: c.sse_per_token,
    shutdownGraceMs: c.shutdown_grace,
    concurrency: c.concurrency,
    runConcurrency: c.run_concurrency,
    killGraceMs: c.kill_grace,
    corsOrigins: Object.freeze([...c.cors_origins]),
    synchronous: c.synchronous,
    logLevel: c.log_level,
    metricsPublic: c.metrics_public,
    adminToken: adminToken === undefined || adminToken === '' ? null : adminToken,
    plugins: Object.freeze([...c.plugins]),
    varsFile: c.vars_file === null ? null : resolve(c.vars_file),
    secretsFile: c.secrets_file === null ? null : resolve(c.secrets_file),
  });
}
