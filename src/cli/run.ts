/**
 * `rivet run FILE`: checks the file and the inputs, then runs the workflow on the local store
 * and reports it (live view on a terminal, lines otherwise, NDJSON with --json). Ctrl-C cancels
 * the run gracefully; a second Ctrl-C kills the tasks' process groups at once.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { load } from 'js-yaml';
import { RivetError } from '../errors.ts';
import type { Engine } from '../engine/engine.ts';
import type { RunHandle, RunOutcome, WorkflowSource } from '../engine/types.ts';
import pkg from '../../package.json' with { type: 'json' };
import { loadWorkflow, readWorkflowFile, versionOf } from '../load.ts';
import {
  validateWorkflowText,
  type Workflow,
  type WorkflowDocument,
  workflowFromValidatedDocument,
} from '../model/index.ts';
import { fromText, type InputProblem, resolveInputs } from '../model/inputs.ts';
import { howToSet, type Local, type LocalOptions, missingReferences, openLocal } from './local.ts';
import { EXIT } from './main.ts';
import { type Io, printable, renderDiagnostic } from './output.ts';
import { terminalPrompt } from './prompt.ts';
import { JsonReporter, LineReporter, type Reporter, type RunInfo } from './report.ts';

export interface RunOptions extends LocalOptions {
  readonly input?: readonly string[];
  readonly inputsFile?: string;
  readonly json?: boolean;
  readonly force?: readonly string[];
  readonly concurrency?: number;
  /** Between SIGTERM and SIGKILL when a task's process group is stopped. */
  readonly killGraceMs?: number;
  readonly dryRun?: boolean;
}

/** Reads `--inputs-file` and `--input name=value` (text read as each input's declared type). */
export function gatherInputs(workflow: Workflow, opts: RunOptions): Record<string, unknown> {
  return gatherInputValues(workflow.document.inputs ?? {}, opts);
}

/** gatherInputs for declarations known without the workflow (`rivet run --server` reads them from the API). */
export function gatherInputValues(
  defs: Readonly<Record<string, { readonly type: string }>>,
  opts: Pick<RunOptions, 'input' | 'inputsFile'>,
): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  if (opts.inputsFile !== undefined) {
    let data: unknown;
    try {
      data = load(readFileSync(opts.inputsFile, 'utf8'));
    } catch (error) {
      throw new RivetError(
        'RV501',
        `cannot read --inputs-file ${opts.inputsFile}: ${(error as Error).message.split('\n')[0]}`,
      );
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new RivetError('RV501', `--inputs-file ${opts.inputsFile} must hold a mapping of input: value`);
    }
    Object.assign(raw, data);
  }
  for (const pair of opts.input ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new RivetError('RV502', `--input ${JSON.stringify(pair)}: expected name=value`);
    const name = pair.slice(0, eq);
    const text = pair.slice(eq + 1);
    raw[name] = defs[name] === undefined ? text : fromText(defs[name].type, text);
  }
  return raw;
}

export function printInputProblems(io: Io, file: string, problems: readonly InputProblem[]): void {
  for (const p of problems) io.stderr.write(`${printable(file)}: error RV601 ${printable(p.message)} (${p.pointer})\n`);
}

/** What validated a stored document: a different Rivet or set of kinds validates again. */
export function validatorSignature(local: Pick<Local, 'kinds'>): string {
  return `rivet@${pkg.version}:${local.kinds.definitions.map((k) => k.name).join(',')}`;
}

/**
 * A version already validated in this store (same bytes, same Rivet and kinds) is not validated
 * again: its validated document is read back. Saves the validation of big workflows on re-runs.
 */
async function validatedBefore(
  local: Local,
  version: string,
  file: string,
  text: string,
): Promise<WorkflowSource | undefined> {
  const stored = await local.store.getWorkflowVersion(version);
  if (stored?.validated === null || stored?.validated === undefined) return undefined;
  const { signature, document } = JSON.parse(stored.validated) as { signature: string; document: WorkflowDocument };
  if (signature !== validatorSignature(local)) return undefined;
  const workflow = workflowFromValidatedDocument(document, local.kinds.definitions);
  return { workflow, version, file: resolve(file), source: text };
}

/**
 * The workflow of a version kept in the store (for `runs show`, `approve`, `resume`): its
 * validated document when this validator kept it, else its source validated again.
 */
export async function storedWorkflow(local: Local, version: string): Promise<Workflow | undefined> {
  const stored = await local.store.getWorkflowVersion(version);
  if (stored === undefined) return undefined;
  const kept = await validatedBefore(local, version, stored.file, stored.source);
  return kept?.workflow ?? validateWorkflowText(stored.source, { kinds: local.kinds.definitions }).workflow;
}

/** Loads and validates a workflow file for running; prints diagnostics and returns undefined when invalid. */
export async function loadForRun(file: string, local: Local, io: Io): Promise<WorkflowSource | undefined> {
  const bytes = await readWorkflowFile(file);
  const version = versionOf(bytes);
  const text = new TextDecoder().decode(bytes);
  let source = await validatedBefore(local, version, file, text);
  if (source === undefined) {
    const loaded = await loadWorkflow(file, { kinds: local.kinds.definitions });
    if (loaded.workflow === undefined) {
      for (const d of loaded.diagnostics)
        io.stderr.write(`${renderDiagnostic(io.stderr, file, d, loaded.sourceMap.text)}\n`);
      return undefined;
    }
    source = { workflow: loaded.workflow, version: loaded.version, file: resolve(file), source: loaded.sourceMap.text };
    if (loaded.workflow.document.process === undefined) {
      await local.store.saveWorkflowVersion({
        version: loaded.version,
        name: loaded.workflow.name,
        file: source.file,
        source: source.source,
        createdAt: Date.now(),
        validated: JSON.stringify({ signature: validatorSignature(local), document: loaded.workflow.document }),
      });
    }
  }
  if (source.workflow.document.process !== undefined) {
    throw new RivetError('RV604', `${file} describes a process, not tasks`, { hint: `rivet process start ${file}` });
  }
  return source;
}

export function exitCode(outcome: RunOutcome): number {
  return outcome.state === 'succeeded' ? EXIT.ok : outcome.state === 'cancelled' ? EXIT.cancelled : EXIT.failed;
}

export async function makeReporter(io: Io, json: boolean, tasks: number): Promise<Reporter> {
  if (json) return new JsonReporter(io);
  if (io.stdout.isTTY === true && process.env.TERM !== 'dumb') {
    const { LiveView } = await import('./live-view.ts');
    return new LiveView(io, { tasks });
  }
  return new LineReporter(io);
}

/**
 * Follows a run to its end: events and logs into the reporter (child runs' tasks shown as
 * `parent_task/child_task`), Ctrl-C handling, then the outcome.
 */
export async function follow(
  engine: Engine,
  start: () => Promise<RunHandle>,
  reporter: Reporter,
  info: Omit<RunInfo, 'runId'>,
): Promise<RunOutcome> {
  const prefixes = new Map<string, string>();
  const prefixed = <T extends { runId: string; task: string | null }>(x: T): T => {
    const p = prefixes.get(x.runId);
    return p === undefined || x.task === null || x.task === '' ? x : { ...x, task: `${p}/${x.task}` };
  };
  const off = engine.on({
    event: (e) => {
      if (e.type === 'run.created') {
        const parent = (e.data?.parent ?? null) as { runId: string; task: string; item: number | null } | null;
        if (parent !== null) {
          const base = prefixes.get(parent.runId);
          const name = parent.item === null ? parent.task : `${parent.task}[${parent.item}]`;
          prefixes.set(e.runId, base === undefined ? name : `${base}/${name}`);
        }
      }
      reporter.event(prefixed(e));
    },
    log: (l) => reporter.log(prefixed(l)),
  });
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      reporter.note('cancelling the run (Ctrl-C again to kill its processes now)');
      void engine.close('cancel');
    } else {
      reporter.note('killing');
      engine.killAll();
      process.exit(EXIT.cancelled);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const handle = await start();
    reporter.start({ ...info, runId: handle.runId });
    return await handle.done;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    off();
  }
}

function sameInputs(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}

export async function runCommand(file: string, opts: RunOptions, io: Io): Promise<number> {
  const local = await openLocal(opts);
  try {
    const source = await loadForRun(file, local, io);
    if (source === undefined) return EXIT.invalid;
    const checked = resolveInputs(source.workflow.document.inputs, gatherInputs(source.workflow, opts));
    if (!checked.ok) {
      printInputProblems(io, file, checked.problems);
      return EXIT.invalid;
    }
    for (const force of opts.force ?? []) {
      if (source.workflow.task(force) === undefined) {
        throw new RivetError('RV502', `--force ${force}: ${source.workflow.name} has no task ${force}`);
      }
    }
    if (opts.dryRun === true) {
      const { dryRun } = await import('./dry-run.ts');
      return await dryRun(
        { source, inputs: checked.values, local, force: opts.force ?? [], json: opts.json === true },
        io,
      );
    }
    const reporter = await makeReporter(io, opts.json === true, source.workflow.tasks.length);
    for (const ref of missingReferences(source.workflow, local))
      reporter.note(`warning: ${ref} is not set; tasks that read it will fail (${howToSet(ref)})`);
    for (const name of new Set(Object.keys(local.secrets))) {
      if (local.secrets[name]!.length > 0 && local.secrets[name]!.length < 4) {
        reporter.note(`warning: secret ${name} is shorter than 4 characters and cannot be masked in logs`);
      }
    }
    const interactive = io.stdout.isTTY === true && process.stdin.isTTY === true && opts.json !== true;
    const engine = local.engine({
      ...(opts.concurrency === undefined ? {} : { capacity: opts.concurrency }),
      ...(opts.killGraceMs === undefined ? {} : { killGraceMs: opts.killGraceMs }),
      ...(interactive ? { prompt: terminalPrompt(io, process.stdin, userInfo().username, reporter) } : {}),
    });
    const orphan = (await engine.orphanedRuns()).find(
      (r) =>
        r.workflow === source.workflow.name && r.version === source.version && sameInputs(r.inputs, checked.values),
    );
    if (orphan !== undefined)
      reporter.note(`run ${orphan.id} of this workflow, with the same inputs, was interrupted; resuming it`);
    const outcome = await follow(
      engine,
      () =>
        orphan !== undefined
          ? engine.resumeRun(orphan.id)
          : engine.startRun({ source, inputs: checked.values, trigger: 'cli', force: opts.force ?? [] }),
      reporter,
      { workflow: source.workflow.name, tasks: source.workflow.tasks.map((t) => t.id), resumed: orphan !== undefined },
    );
    await engine.close();
    reporter.finish(outcome);
    return exitCode(outcome);
  } finally {
    await local.close();
  }
}
