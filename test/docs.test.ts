// The docs run as written: every complete workflow in docs/*.md validates, every block marked
// `invalid CODE` fails with that code, every TypeScript block runs, and every workflow with
// `# run:` lines runs through the real CLI exactly as those lines say (see "How to read the
// examples" in docs/engine.md for the notation).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { type PlatformApi, startPlatformApi } from '../examples/platform-api/server.ts';
import { KindRegistry, loadPlugin } from '../src/kinds/registry.ts';
import { type KindDefinition, validateWorkflowText } from '../src/model/index.ts';

const docsDir = new URL('../docs/', import.meta.url);
const blocks = readdirSync(docsDir)
  .filter((f) => f.endsWith('.md'))
  .flatMap((file) =>
    [...readFileSync(new URL(file, docsDir), 'utf8').matchAll(/^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({
      file,
      lang: m[1]!,
      info: m[2]!.trim(),
      body: m[3]!,
    })),
  );

const workflows = blocks.filter((b) => b.lang === 'yaml' && /^name:/m.test(b.body));

test('docs hold complete workflow examples', () => {
  assert.ok(workflows.length >= 8, `found ${workflows.length}`);
});

const repo = new URL('../', import.meta.url).pathname;

/** A block's `plugin=PATH` (repo-relative): its kinds are loaded to check and run the block. */
const pluginOf = (info: string): string | undefined => /(?:^|\s)plugin=(\S+)/.exec(info)?.[1];

async function kindsOf(info: string): Promise<readonly KindDefinition[] | undefined> {
  const plugin = pluginOf(info);
  if (plugin === undefined) return undefined;
  const registry = new KindRegistry();
  await loadPlugin(registry, join(repo, plugin));
  return registry.definitions;
}

for (const [i, b] of workflows.entries()) {
  const name = /^name: (\S+)/m.exec(b.body)?.[1] ?? String(i);
  test(`${b.file}: workflow "${name}" ${b.info.startsWith('invalid') ? 'fails as documented' : 'is valid'}`, async () => {
    const kinds = await kindsOf(b.info);
    const result = validateWorkflowText(b.body, kinds === undefined ? {} : { kinds });
    const expected = /^invalid (RV\d{3})$/.exec(b.info)?.[1];
    if (expected === undefined) {
      assert.deepEqual(
        result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`),
        [],
      );
    } else {
      assert.deepEqual([...new Set(result.diagnostics.map((d) => d.code))], [expected]);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Workflows with `# run:` lines run as they say. Comment lines before `name:`:
//   # run: ARGS → STATE        `rivet run FILE ARGS`; STATE is succeeded, failed, cancelled
//                              (exit 0, 1, 130), invalid (exit 2) or crashed (killed, see crash:)
//   # resume: ARGS → STATE     `rivet runs resume RUN ARGS` on the run of the step before
// and, for the step above them:
//   # approve: TASK ARGS       once TASK waits: `rivet approve RUN TASK ARGS` from another process
//   # cancel: TASK             once TASK has printed a line: `rivet runs cancel RUN` from another process
//   # crash: TASK              once TASK has printed a line: `rivet run` is killed with SIGKILL
//   # tasks: a=succeeded b[1]=failed ...     the states `rivet runs show` gives
//   # attempts: a=3 ...        the attempts `rivet runs show` counts
//   # cached: a b              these tasks were done from the cache in this step
//   # outputs: {JSON}          the run's outputs, exactly
//   # logs: TEXT               a log line (or a note) of this step contains TEXT
//   # error: TEXT              the run's error contains TEXT
//   # events: TYPE:TASK ...    these events happened in this step
//   # env: NAME=VALUE ...      (any step) environment of every command of the example
// Every workflow block of a page is written next to the others (so `workflow: { file: ... }` can
// name another block by its name), and each example gets its own store.

interface Step {
  readonly command: 'run' | 'resume';
  readonly args: string[];
  readonly expect: string;
  approve?: { task: string; args: string[] };
  cancel?: string;
  crash?: string;
  tasks?: Record<string, string>;
  attempts?: Record<string, number>;
  cached?: string[];
  outputs?: unknown;
  logs: string[];
  events: string[];
  error?: string;
}

/** Splits a command line like a shell: spaces separate, quotes group. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

const pairs = (text: string): [string, string][] =>
  words(text).map((w) => {
    const eq = w.indexOf('=');
    assert.ok(eq > 0, `expected NAME=VALUE, got ${w}`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });

function scenarioOf(body: string): { steps: Step[]; env: Record<string, string> } | undefined {
  const steps: Step[] = [];
  const env: Record<string, string> = {};
  for (const m of body.matchAll(
    /^# (run|resume|approve|cancel|crash|tasks|attempts|cached|outputs|logs|error|events|env): ?(.*)$/gm,
  )) {
    const [, key, rest] = m as unknown as [string, string, string];
    if (key === 'env') {
      Object.assign(env, Object.fromEntries(pairs(rest)));
      continue;
    }
    if (key === 'run' || key === 'resume') {
      const arrow = rest.lastIndexOf('→');
      assert.ok(arrow >= 0, `# ${key}: ${rest} needs "→ STATE"`);
      steps.push({
        command: key,
        args: words(rest.slice(0, arrow)),
        expect: rest.slice(arrow + 1).trim(),
        logs: [],
        events: [],
      });
      continue;
    }
    const step = steps.at(-1);
    assert.ok(step !== undefined, `# ${key}: comes before any # run:`);
    if (key === 'approve') step.approve = { task: words(rest)[0]!, args: words(rest).slice(1) };
    else if (key === 'cancel') step.cancel = rest.trim();
    else if (key === 'crash') step.crash = rest.trim();
    else if (key === 'tasks') step.tasks = Object.fromEntries(pairs(rest));
    else if (key === 'attempts') step.attempts = Object.fromEntries(pairs(rest).map(([k, v]) => [k, Number(v)]));
    else if (key === 'cached') step.cached = words(rest);
    else if (key === 'outputs') step.outputs = JSON.parse(rest);
    else if (key === 'logs') step.logs.push(rest);
    else if (key === 'error') step.error = rest;
    else step.events.push(...words(rest));
  }
  return steps.length === 0 ? undefined : { steps, env };
}

const EXIT_OF: Record<string, number> = { succeeded: 0, failed: 1, invalid: 2, cancelled: 130 };
const rivetBin = join(repo, 'bin', 'rivet.js');
const exitOf = (c: ChildProcess): Promise<{ code: number | null; signal: string | null }> =>
  new Promise((done) => c.once('close', (code, signal) => done({ code, signal })));

interface Event {
  type: string;
  run?: string;
  task?: string | null;
  item?: number | null;
  line?: string;
  text?: string;
  state?: string;
  outputs?: unknown;
  error?: string | null;
}

/** One step: the command, the other process it may start (approve, cancel), what it printed. */
async function runStep(
  step: Step,
  ctx: { file: string; dir: string; home: string; env: NodeJS.ProcessEnv; plugin: string[]; runId: string },
) {
  const base = ['--json', '--home', ctx.home, ...ctx.plugin];
  const args =
    step.command === 'run'
      ? ['run', ctx.file, ...base, ...step.args]
      : ['runs', 'resume', ctx.runId, ...base, ...step.args];
  const child = spawn(process.execPath, [rivetBin, ...args], { cwd: ctx.dir, env: ctx.env });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const events: Event[] = [];
  const others: Promise<unknown>[] = [];
  const other = (a: string[]): void => {
    const c = spawn(process.execPath, [rivetBin, ...a, '--home', ctx.home, ...ctx.plugin], {
      cwd: ctx.dir,
      env: ctx.env,
    });
    others.push(exitOf(c));
  };
  let runId = ctx.runId;
  let acted = false;
  for await (const line of createInterface({ input: child.stdout })) {
    const e = JSON.parse(line) as Event;
    events.push(e);
    if (typeof e.run === 'string' && e.run !== '' && (e.type === 'cli.started' || e.type === 'cli.resumed'))
      runId = e.run;
    if (acted) continue;
    if (step.approve !== undefined && e.type === 'task.waiting' && e.task === step.approve.task) {
      acted = true;
      other(['approve', runId, step.approve.task, ...step.approve.args]);
    }
    const firstLine = e.type === 'log' && (e.task === step.cancel || e.task === step.crash);
    if (firstLine && step.cancel !== undefined) {
      acted = true;
      other(['runs', 'cancel', runId]);
    }
    if (firstLine && step.crash !== undefined) {
      acted = true;
      child.kill('SIGKILL');
    }
  }
  const exit = await exitOf(child);
  await Promise.all(others);
  return { exit, events, stderr, runId };
}

function checkStep(step: Step, r: Awaited<ReturnType<typeof runStep>>, home: string, env: NodeJS.ProcessEnv): void {
  const shown = `${r.events.map((e) => JSON.stringify(e)).join('\n')}\n${r.stderr}`;
  if (step.expect === 'crashed') assert.equal(r.exit.signal, 'SIGKILL', shown);
  else {
    assert.ok(step.expect in EXIT_OF, `unknown state ${step.expect}`);
    assert.equal(r.exit.code, EXIT_OF[step.expect], shown);
    if (step.expect !== 'invalid') assert.equal(r.events.at(-1)?.state, step.expect, shown);
  }
  if (step.outputs !== undefined) assert.deepEqual(r.events.at(-1)?.outputs, step.outputs, shown);
  if (step.error !== undefined) assert.ok(String(r.events.at(-1)?.error).includes(step.error), shown);
  const text = r.events.map((e) => e.line ?? e.text ?? '').join('\n') + r.stderr;
  for (const l of step.logs) assert.ok(text.includes(l), `no log line with ${JSON.stringify(l)}:\n${text}`);
  for (const want of step.events) {
    const [type, task] = want.split(':');
    assert.ok(
      r.events.some((e) => e.type === type && (task === undefined || e.task === task)),
      `no event ${want}:\n${shown}`,
    );
  }
  if (step.tasks === undefined && step.attempts === undefined && step.cached === undefined) return;
  const show = spawnSync(process.execPath, [rivetBin, 'runs', 'show', r.runId, '--json', '--home', home], {
    encoding: 'utf8',
    env,
  });
  assert.equal(show.status, 0, show.stderr);
  const tasks = (
    JSON.parse(show.stdout) as {
      tasks: { task: string; item: number | null; status: string; attempts: number; cached: string | null }[];
    }
  ).tasks;
  const unit = (name: string) => {
    const t = tasks.find((x) => (x.item === null ? x.task : `${x.task}[${x.item}]`) === name);
    assert.ok(t !== undefined, `no task ${name} in ${JSON.stringify(tasks)}`);
    return t;
  };
  for (const [name, status] of Object.entries(step.tasks ?? {})) assert.equal(unit(name).status, status, name);
  for (const [name, n] of Object.entries(step.attempts ?? {})) assert.equal(unit(name).attempts, n, name);
  for (const name of step.cached ?? []) {
    const units = tasks.filter((x) => x.task === name || `${x.task}[${x.item}]` === name);
    assert.ok(units.length > 0 && units.every((u) => u.cached !== null), `${name} is not cached: ${show.stdout}`);
  }
}

const runnable = workflows.filter((b) => scenarioOf(b.body) !== undefined);
const pages = new Map<string, string>();
const scratch = mkdtempSync(join(tmpdir(), 'rivet-docs-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The page's workflows, written as `<name>.yaml` in one folder (once per page). */
function pageDir(file: string): string {
  let dir = pages.get(file);
  if (dir === undefined) {
    dir = mkdtempSync(join(scratch, `${file.replace(/\W/g, '_')}-`));
    for (const b of workflows.filter((w) => w.file === file && !w.info.startsWith('invalid'))) {
      writeFileSync(join(dir, `${/^name: (\S+)/m.exec(b.body)![1]}.yaml`), b.body);
    }
    pages.set(file, dir);
  }
  return dir;
}

test('docs/engine.md runs its examples', () => {
  assert.ok(runnable.filter((b) => b.file === 'engine.md').length >= 12, `found ${runnable.length}`);
});

describe('docs examples run as their # run: lines say', { concurrency: 4 }, () => {
  for (const b of runnable) {
    const name = /^name: (\S+)/m.exec(b.body)![1]!;
    const scenario = scenarioOf(b.body)!;
    test(`${b.file}: ${name}`, { timeout: 60_000 }, async (t) => {
      const dir = pageDir(b.file);
      const home = mkdtempSync(join(scratch, `home-${name}-`));
      const env = { ...process.env, NO_COLOR: '1', RIVET_PLUGINS: '', ...scenario.env };
      const plugin = pluginOf(b.info);
      let runId = '';
      for (const [i, step] of scenario.steps.entries()) {
        const r = await runStep(step, {
          file: join(dir, `${name}.yaml`),
          dir,
          home,
          env,
          plugin: plugin === undefined ? [] : ['--plugin', join(repo, plugin)],
          runId,
        });
        await t.test(`step ${i + 1}: ${step.command} ${step.args.join(' ')} → ${step.expect}`.trim(), () =>
          checkStep(step, r, home, env),
        );
        if (r.runId !== '') runId = r.runId;
      }
    });
  }
});

const scripts = blocks.filter((b) => b.lang === 'ts');
for (const [i, b] of scripts.entries()) {
  test(`${b.file}: TypeScript example ${i + 1} runs`, () => {
    // Written inside the repository so that `import ... from 'rivet'` resolves to this package.
    const dir = mkdtempSync(join(new URL('../', import.meta.url).pathname, '.docs-test-'));
    try {
      const file = join(dir, 'example.ts');
      writeFileSync(file, b.body);
      const r = spawnSync(process.execPath, [file], {
        cwd: new URL('../', import.meta.url).pathname,
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const expected = /^\/\/ prints: (.*)$/m.exec(b.body)?.[1];
      if (expected !== undefined) assert.match(r.stdout, new RegExp(expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// The README's command lines, run as a newcomer would type them: exit 0, or 2 for the files of
// examples/invalid/ that it shows on purpose. Commands that run examples find the fake platform
// API of examples/platform-api (started here on a free port; the examples' URL variables point at
// it through RIVET_VAR_*) and a store of their own.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const commands = [...readme.matchAll(/^npx rivet (.+?)(?:\s+#.*)?$/gm)].map((m) => m[1]!.trim().split(/\s+/));

test('the README shows rivet commands', () => {
  assert.ok(commands.length >= 3, `found ${commands.length}`);
});

let platform: PlatformApi | undefined;
const readmeHome = mkdtempSync(join(tmpdir(), 'rivet-readme-'));
after(async () => {
  await platform?.close();
  rmSync(readmeHome, { recursive: true, force: true });
});

async function readmeEnv(): Promise<NodeJS.ProcessEnv> {
  platform ??= await startPlatformApi({ port: 0 });
  const vars = readFileSync(join(repo, 'examples/config/vars.yml'), 'utf8');
  const env: NodeJS.ProcessEnv = { ...process.env, RIVET_HOME: readmeHome, NO_COLOR: '1' };
  for (const m of vars.matchAll(/^(\w+): http:\/\/127\.0\.0\.1:8787(\S*)$/gm))
    env[`RIVET_VAR_${m[1]}`] = `${platform.url}${m[2]}`;
  return env;
}

// `rivet server` lines start a server (on a free port instead of the README's 8080) that stays up
// for the commands after them, which get its URL and the admin token it printed (RIVET_TOKEN).
let readmeServer: { child: ChildProcess; url: string; token: string } | undefined;
after(async () => {
  if (readmeServer === undefined) return;
  readmeServer.child.kill('SIGTERM');
  const { code } = await exitOf(readmeServer.child);
  assert.equal(code, 0, 'the README server stops cleanly on SIGTERM');
});

async function startReadmeServer(args: string[]): Promise<void> {
  const port = await new Promise<number>((r) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as { port: number }).port;
      probe.close(() => r(p));
    });
  });
  const child = spawn(process.execPath, ['bin/rivet.js', ...args, '--listen', `127.0.0.1:${port}`], {
    cwd: repo,
    env: { ...(await readmeEnv()), RIVET_LOG_LEVEL: 'warn' },
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!/listening on/.test(err)) {
    assert.ok(child.exitCode === null && Date.now() < deadline, `rivet server did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const token = /rvt_\S+/.exec(err)?.[0];
  assert.ok(token !== undefined, `rivet server printed no admin token: ${err}`);
  readmeServer = { child, url: `http://127.0.0.1:${port}`, token };
}

for (const command of commands) {
  let args = command;
  test(`README: rivet ${args.join(' ')}`, async () => {
    if (args[0] === 'server') {
      await startReadmeServer(args);
      return;
    }
    const env = await readmeEnv();
    if (args.includes('--server')) {
      assert.ok(readmeServer !== undefined, 'a --server command comes after a `rivet server` line');
      args = args.map((a) => a.replace('http://127.0.0.1:8080', readmeServer!.url));
      env.RIVET_TOKEN = readmeServer.token;
    }
    const child = spawn(process.execPath, ['bin/rivet.js', ...args], { cwd: repo, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const { code } = await exitOf(child);
    const expected = args.some((a) => a.startsWith('examples/invalid/')) ? 2 : 0;
    assert.equal(code, expected, out);
    assert.ok(out.length > 0);
  });
}
