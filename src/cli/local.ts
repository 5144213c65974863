/**
 * The CLI's local mode: the store in `.rivet/` of the current folder (RIVET_HOME overrides),
 * deployment variables and secrets from files and the environment, plugins, and an engine on
 * top. Everything is resolved once, here, from arguments and the environment passed in.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { RivetError } from '../errors.ts';
import { CRASH_TESTING, crashPoint } from '../engine/crash-points.ts';
import { Engine } from '../engine/engine.ts';
import type { EngineOptions } from '../engine/types.ts';
import { KindRegistry, loadPlugin } from '../kinds/registry.ts';
import { type Reference, templateReferences } from '../expr/index.ts';
import type { Workflow } from '../model/index.ts';
import { SqliteStore, type SqliteStoreOptions } from '../store/sqlite/sqlite-store.ts';

export interface LocalOptions {
  readonly home?: string;
  readonly vars?: readonly string[];
  readonly varsFile?: string;
  readonly secretsFile?: string;
  readonly plugins?: readonly string[];
  /** SQLite durability (the server uses FULL). */
  readonly synchronous?: 'NORMAL' | 'FULL';
}

export interface Local {
  readonly home: string;
  readonly store: SqliteStore;
  readonly kinds: KindRegistry;
  readonly vars: Record<string, unknown>;
  readonly secrets: Record<string, string>;
  readonly envScope: Record<string, string>;
  engine(extra?: Partial<EngineOptions>): Engine;
  /** Closes the store and the kinds' connections. */
  close(): Promise<void>;
}

/** Environment variables visible as `env.NAME` in expressions, unless RIVET_ENV_ALLOW adds more. */
export const DEFAULT_ENV_ALLOW = ['HOME', 'USER', 'PATH', 'HOSTNAME', 'PWD', 'CI', 'TZ', 'LANG'];

export function homeDir(opts: LocalOptions, env: NodeJS.ProcessEnv): string {
  return resolve(opts.home ?? env.RIVET_HOME ?? '.rivet');
}

function readMap(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RivetError(
      'RV501',
      `cannot read the ${what} file ${file}: ${(error as NodeJS.ErrnoException).code ?? ''}`,
    );
  }
  let data: unknown;
  try {
    data = load(text);
  } catch (error) {
    throw new RivetError(
      'RV501',
      `the ${what} file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new RivetError('RV501', `the ${what} file ${file} must be a mapping of NAME: value`);
  }
  return data as Record<string, unknown>;
}

function optionalFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function loadVars(opts: LocalOptions, home: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const vars: Record<string, unknown> = {};
  const file = opts.varsFile ?? join(home, 'vars.yaml');
  if (opts.varsFile !== undefined || optionalFile(file)) Object.assign(vars, readMap(file, 'variables'));
  for (const [k, v] of Object.entries(env)) if (k.startsWith('RIVET_VAR_') && v !== undefined) vars[k.slice(10)] = v;
  for (const pair of opts.vars ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RivetError('RV502', `--var ${JSON.stringify(pair)}: expected name=value`);
    vars[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return vars;
}

function loadSecrets(opts: LocalOptions, home: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const secrets: Record<string, string> = {};
  const file = opts.secretsFile ?? join(home, 'secrets.yaml');
  if (opts.secretsFile !== undefined || optionalFile(file)) {
    for (const [k, v] of Object.entries(readMap(file, 'secrets'))) {
      secrets[k] = typeof v === 'string' ? v : JSON.stringify(v);
    }
  }
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('RIVET_SECRET_') && v !== undefined) secrets[k.slice(13)] = v;
  }
  return secrets;
}

function envScope(env: NodeJS.ProcessEnv): Record<string, string> {
  const allow = new Set([...DEFAULT_ENV_ALLOW, ...(env.RIVET_ENV_ALLOW ?? '').split(',').map((s) => s.trim())]);
  const out: Record<string, string> = {};
  for (const name of allow) if (name !== '' && env[name] !== undefined) out[name] = env[name];
  return out;
}

/**
 * Crash and fault injection for the crash tests (RELIABILITY.md C2, C8); nothing unless set.
 * RIVET_CRASH_AT / RIVET_CRASH_LOG add the `mid-transaction` crash point inside every write.
 * RIVET_TEST_FAULT=<before-commit|mid-transaction>:<CODE>:<N|FILE> fails the first N commits, or
 * every commit while FILE exists, with an error carrying CODE (SQLITE_FULL, SQLITE_BUSY...).
 */
function testHooks(env: NodeJS.ProcessEnv): SqliteStoreOptions {
  const hooks: { midTransaction?: () => void; beforeCommit?: () => void } = {};
  if (CRASH_TESTING) hooks.midTransaction = () => crashPoint('mid-transaction');
  const m = /^(before-commit|mid-transaction):([A-Z_]+):(.+)$/.exec(env.RIVET_TEST_FAULT ?? '');
  if (m === null) return { hooks };
  const [, hook, code, when] = m as unknown as [string, string, string, string];
  const count = /^\d+$/.test(when) ? Number(when) : null;
  let failed = 0;
  const fault = (): void => {
    if (count === null ? !existsSync(when) : failed >= count) return;
    failed++;
    throw Object.assign(new Error(`${code}: injected by RIVET_TEST_FAULT`), { code });
  };
  const crash = hooks.midTransaction;
  if (hook === 'before-commit') hooks.beforeCommit = fault;
  else hooks.midTransaction = () => (crash?.(), fault());
  return { hooks };
}

export async function openLocal(opts: LocalOptions, env: NodeJS.ProcessEnv = process.env): Promise<Local> {
  const home = homeDir(opts, env);
  const kinds = new KindRegistry();
  const plugins = [...(opts.plugins ?? []), ...(env.RIVET_PLUGINS ?? '').split(':').filter((p) => p !== '')];
  for (const p of plugins) await loadPlugin(kinds, p);
  let store: SqliteStore;
  try {
    store = new SqliteStore(join(home, 'rivet.db'), {
      ...testHooks(env),
      ...(opts.synchronous === undefined ? {} : { synchronous: opts.synchronous }),
    });
  } catch (error) {
    throw new RivetError('RV606', `cannot open the store in ${home}: ${(error as Error).message}`, {
      hint: 'set RIVET_HOME to a writable folder',
    });
  }
  const vars = loadVars(opts, home, env);
  const secrets = loadSecrets(opts, home, env);
  const scopeEnv = envScope(env);
  return {
    home,
    store,
    kinds,
    vars,
    secrets,
    envScope: scopeEnv,
    close: async () => {
      await kinds.close();
      await store.close();
    },
    engine: (extra = {}) =>
      new Engine({
        store,
        kinds,
        artifactsRoot: join(home, 'artifacts'),
        vars,
        secrets,
        envScope: scopeEnv,
        ...extra,
      }),
  };
}

/**
 * Every `secrets.X` and `vars.X` the workflow's tasks and outputs read that has no value. The run
 * still starts (a task skipped by its `if:` may never read it); the CLI warns up front.
 */
export function missingReferences(workflow: Workflow, local: Pick<Local, 'vars' | 'secrets'>): string[] {
  const missing = new Set<string>();
  const { on: _triggers, ...runnable } = workflow.document;
  void _triggers;
  for (const references of templateStrings(runnable)) {
    for (const r of references) {
      const name = r.path[0];
      if (name === undefined) continue;
      if (r.root === 'secrets' && !Object.hasOwn(local.secrets, name)) missing.add(`secrets.${name}`);
      if (r.root === 'vars' && !Object.hasOwn(local.vars, name)) missing.add(`vars.${name}`);
    }
  }
  return [...missing].sort();
}

/** The references of every templated string in a value (no paths: this runs on every `rivet run`). */
function templateStrings(value: unknown, out: Reference[][] = []): Reference[][] {
  if (typeof value === 'string') {
    if (value.includes('${{')) out.push(templateReferences(value));
  } else if (Array.isArray(value)) for (const v of value) templateStrings(v, out);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) templateStrings(v, out);
  return out;
}

/** How to set a missing `secrets.X` or `vars.X`. */
export function howToSet(ref: string): string {
  return ref.startsWith('secrets.')
    ? `set RIVET_SECRET_${ref.slice(8)} or add ${ref.slice(8)} to .rivet/secrets.yaml`
    : `pass --var ${ref.slice(5)}=... or add ${ref.slice(5)} to .rivet/vars.yaml`;
}
