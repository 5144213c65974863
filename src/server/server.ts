/**
 * `rivet server`: opens the store, loads the workflows, recovers interrupted runs, starts the
 * scheduler and the process supervisor, and serves the API. Stopping (SIGTERM, SIGINT) refuses
 * new work, lets running tasks finish for up to the grace period, stops the processes, and
 * leaves whatever is still running to the recovery of the next start.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { openLocal } from '../cli/local.ts';
import { systemClock, type TimerClock } from '../engine/clock.ts';
import { type ProcessSpec, Supervisor } from '../processes/supervisor.ts';
import { renderValue } from '../expr/index.ts';
import { baseScope } from '../engine/scope.ts';
import type { WorkflowSource } from '../engine/types.ts';
import { resolveInputs } from '../model/inputs.ts';
import { Scheduler, schedulesOf } from '../triggers/scheduler.ts';
import type { ServerData } from '../store/server-types.ts';
import { buildApp } from './app.ts';
import { Approvals } from './approvals.ts';
import { AuditWriter } from './audit.ts';
import { mintToken, parseToken } from './auth.ts';
import type { ServerConfig } from './config.ts';
import type { ServerContext } from './context.ts';
import { RivetError } from '../errors.ts';
import { RunFeeds } from './feeds.ts';
import { Metrics } from './metrics.ts';
import { WorkflowRegistry } from './registry.ts';
import { startScheduledRun } from './schedules.ts';

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly ctx: ServerContext;
  readonly url: string;
  /** The admin token created at this start (printed once), or null. */
  readonly adminToken: string | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: TimerClock;
  /** Where the first admin token is printed (default stderr). */
  readonly announce?: (text: string) => void;
  readonly logger?: Logger;
}

/** The first start creates the `admin` user, with the token from RIVET_ADMIN_TOKEN or a new one. */
function bootstrapAdmin(data: ServerData, config: ServerConfig, now: number): string | null {
  if (data.countUsers() > 0) return null;
  let token: string;
  let id: string;
  let hash: string;
  if (config.adminToken !== null) {
    const parsed = parseToken(config.adminToken);
    if (parsed === null) {
      throw new RivetError('RV701', 'RIVET_ADMIN_TOKEN is not a Rivet token (rvt_<16 chars>.<43 chars>)', {
        hint: 'leave it unset and the server prints a new token on its first start',
      });
    }
    ({ id, hash } = parsed);
    token = config.adminToken;
  } else {
    ({ id, hash, token } = mintToken());
  }
  data.putUser({ name: 'admin', role: 'admin', groups: [], workflows: null, createdAt: now, createdBy: 'rivet' });
  data.putToken({
    id,
    user: 'admin',
    label: 'first admin',
    hash,
    createdAt: now,
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
  });
  return config.adminToken === null ? token : null;
}

/**
 * A process file's `${{ }}` templates, evaluated once per definition with the inputs' defaults,
 * vars, secrets and env (a process has no per-start inputs); argv items become text.
 */
export function renderProcessSpec(
  source: WorkflowSource,
  scope: { vars: Record<string, unknown>; secrets: Record<string, string>; env: Record<string, string> },
  given: Readonly<Record<string, unknown>> = {},
): ProcessSpec {
  const doc = source.workflow.document;
  const inputs = resolveInputs(doc.inputs, given);
  if (!inputs.ok) {
    throw new Error(`its inputs need values: ${inputs.problems.map((p) => p.message).join('; ')}`);
  }
  const base = baseScope({
    workflow: source.workflow.name,
    version: source.version,
    runId: '',
    trigger: 'process',
    startedAt: Date.now(),
    inputs: inputs.values,
    vars: scope.vars,
    secrets: scope.secrets,
    env: scope.env,
    event: null,
  });
  const spec = renderValue(doc.process, base as unknown as Record<string, unknown>) as ProcessSpec;
  return spec.command === undefined ? spec : { ...spec, command: spec.command.map((a) => String(a)) };
}

export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const log =
    options.logger ??
    pino({
      level: config.logLevel,
      base: { service: 'rivet' },
      redact: { paths: ['req.headers.authorization', 'token', '*.token'], censor: '***' },
    });
  await mkdir(config.data, { recursive: true });
  // RIVET_PLUGINS is already in config.plugins (comma-separated); openLocal must not load them again.
  const local = await openLocal(
    {
      home: config.data,
      plugins: config.plugins,
      synchronous: config.synchronous,
      ...(config.varsFile === null ? {} : { varsFile: config.varsFile }),
      ...(config.secretsFile === null ? {} : { secretsFile: config.secretsFile }),
    },
    { ...env, RIVET_PLUGINS: undefined },
  );
  const data = local.store.serverData();
  const created = bootstrapAdmin(data, config, clock.now());
  if (created !== null) {
    (options.announce ?? ((t) => process.stderr.write(t)))(
      `\nRivet created the first admin user. Its API token, shown this once:\n\n  ${created}\n\n` +
        'Keep it in a password manager or a secret store, then create users and tokens with it (docs/api.md).\n\n',
    );
  }
  const registry = new WorkflowRegistry({
    store: local.store,
    kinds: local.kinds,
    folder: config.workflows,
    uploads: join(config.data, 'workflows'),
    now: () => clock.now(),
    onError: (error) => log.error({ err: error }, 'workflow reload failed'),
  });
  await registry.reload();
  // One line for the lot (a folder may hold other YAML files too); each file's problems at debug,
  // and for admins in GET /v1/workflows.
  const problems = registry.problems();
  if (problems.length > 0) {
    log.warn(
      { count: problems.length, files: problems.slice(0, 5).map((p) => p.file) },
      `${problems.length} file(s) of the workflows folder are not valid workflows and were not loaded (GET /v1/workflows lists their problems)`,
    );
  }
  for (const p of problems) {
    log.debug(
      { file: p.file, problems: p.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`) },
      'workflow file not loaded',
    );
  }
  const approvals = new Approvals(() => clock.now());
  const engine = local.engine({
    clock,
    capacity: config.concurrency,
    ...(config.runConcurrency === null ? {} : { runCapacity: config.runConcurrency }),
    killGraceMs: config.killGraceMs,
    prompt: approvals.prompt,
    loadByName: (name) => {
      const w = registry.get(name);
      return w === undefined || w.kind !== 'tasks' ? undefined : w.source;
    },
  });
  const redactor = engine.redactor;
  const supervisor = new Supervisor({ data, redact: (s) => redactor.text(s), now: () => clock.now() });
  let ctxRef: ServerContext | null = null;
  const scheduler = new Scheduler({
    clock,
    data,
    fire: (tick) => startScheduledRun(ctxRef!, tick),
    onError: (id, error) => log.error({ schedule: id, err: error }, 'schedule tick failed'),
  });
  const ctx: ServerContext = {
    config,
    log,
    clock,
    store: local.store,
    data,
    audit: new AuditWriter(data, log),
    kinds: local.kinds,
    engine,
    registry,
    approvals,
    feeds: new RunFeeds(local.store, engine, (error) => log.error({ err: error }, 'event feed failed')),
    metrics: new Metrics(engine),
    supervisor,
    scheduler,
    redactor,
    artifactsRoot: join(config.data, 'artifacts'),
    accepting: true,
    ready: false,
    streams: new Map(),
    defineProcess: () => [],
  };
  ctxRef = ctx;

  // Inputs a process was last started with (kept in memory: a server restart goes back to the defaults).
  const processInputs = new Map<string, Readonly<Record<string, unknown>>>();
  const scopeOf = () => ({ vars: local.vars, secrets: local.secrets, env: local.envScope });
  ctx.defineProcess = (name, inputs) => {
    const w = registry.get(name);
    if (w === undefined || w.kind !== 'process') return [{ pointer: '', message: `no process ${name}` }];
    const checked = resolveInputs(w.source.workflow.document.inputs, inputs);
    if (!checked.ok) return checked.problems.map((p) => ({ pointer: p.pointer, message: p.message }));
    const spec = renderProcessSpec(w.source, scopeOf(), checked.values);
    supervisor.define(name, { file: w.source.file, version: w.source.version, spec });
    processInputs.set(name, checked.values);
    return [];
  };
  const syncDefinitions = (): void => {
    const defs = [];
    for (const w of registry.list()) {
      if (w.kind === 'process') {
        try {
          const spec = renderProcessSpec(w.source, scopeOf(), processInputs.get(w.name) ?? {});
          supervisor.define(w.name, { file: w.source.file, version: w.source.version, spec });
        } catch (error) {
          log.error({ process: w.name, err: redactor.text((error as Error).message) }, 'process definition not loaded');
        }
      } else {
        defs.push(...schedulesOf(w.name, w.source.workflow.document));
      }
    }
    scheduler.sync(defs);
  };
  syncDefinitions();
  registry.onChange(syncDefinitions);

  const app = await buildApp(ctx);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;

  // Runs a crashed server left behind continue here; each is taken over with a new epoch.
  const recoverOrphans = async (): Promise<void> => {
    for (const orphan of await engine.orphanedRuns()) {
      try {
        const handle = await engine.resumeRun(orphan.id);
        handle.done.catch(() => undefined);
        log.info({ run: orphan.id, workflow: orphan.workflow }, 'run recovered');
      } catch (error) {
        log.error({ run: orphan.id, err: error }, 'run could not be recovered');
      }
    }
  };
  await recoverOrphans();
  // A run the crashed server had inserted but not yet claimed looks like a run another process is
  // starting, and orphanedRuns() leaves those alone for 60 s: look again once that window has
  // passed, or it would stay queued until the next restart (RELIABILITY.md S1, I2).
  const unclaimed = (await local.store.listRuns({ state: ['queued'], topLevel: true, limit: 1000 })).filter(
    (r) => r.owner === null && r.startedAt === null && !engine.active.has(r.id),
  );
  let cancelRecheck: (() => void) | null = null;
  if (unclaimed.length > 0) {
    const newest = Math.max(...unclaimed.map((r) => r.createdAt));
    cancelRecheck = clock.setTimer(
      () => {
        cancelRecheck = null;
        if (ctx.accepting)
          void recoverOrphans().catch((error: unknown) => log.error({ err: error }, 'recovery failed'));
      },
      Math.max(0, newest + 61_000 - clock.now()),
    );
  }
  await supervisor.recover();
  await scheduler.start();
  registry.watch();
  ctx.ready = true;
  log.info({ url, data: config.data, workflows: registry.list().length }, 'rivet server listening');

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      ctx.accepting = false;
      cancelRecheck?.();
      log.info('stopping: no new work; running tasks may finish');
      scheduler.stop();
      registry.close();
      engine.drain();
      const deadline = Date.now() + config.shutdownGraceMs;
      while (engine.busy > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await engine.close('release');
      await supervisor.stopAll();
      ctx.feeds.close();
      ctx.metrics.close();
      await app.close();
      await local.close();
      log.info('stopped');
    })();
    return stopping;
  };
  return { app, ctx, url, adminToken: created, stop };
}
