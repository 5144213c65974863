/**
 * Rebuilding a run from the store: its pinned workflow version (never the file on disk, which
 * may have changed), its inputs, and its event log applied in order. Anything that cannot be
 * read back (a version that no longer validates, a kind that is gone, truncated JSON, an
 * impossible transition) makes the run "poisoned": it is failed with the reason, and the engine
 * goes on serving other runs (RELIABILITY.md C7) instead of crashing on every start.
 */
import { resolve } from 'node:path';
import { validateWorkflowText } from '../model/index.ts';
import type { RunRecord } from '../store/types.ts';
import type { Engine } from './engine.ts';
import type { RunMachine } from './run-machine.ts';
import type { BaseScope } from './scope.ts';
import type { WorkflowSource } from './types.ts';

export type Replayed =
  | { readonly poisoned: string }
  | {
      readonly poisoned: null;
      readonly machine: RunMachine;
      readonly source: WorkflowSource;
      readonly scope: BaseScope;
    };

export async function loadVersion(engine: Engine, version: string): Promise<WorkflowSource | string> {
  const stored = await engine.options.store.getWorkflowVersion(version);
  if (stored === undefined) return `workflow version ${version} is not in the store`;
  const checked = validateWorkflowText(stored.source, { kinds: engine.options.kinds.definitions });
  if (checked.workflow === undefined) {
    const first = checked.diagnostics[0];
    return `the stored workflow version ${version} no longer validates (${first?.code ?? ''} ${first?.message ?? ''}); is a plugin missing?`;
  }
  return { workflow: checked.workflow, version, file: resolve(stored.file), source: stored.source };
}

export async function replayRun(engine: Engine, record: RunRecord): Promise<Replayed> {
  try {
    const source = await loadVersion(engine, record.version);
    if (typeof source === 'string') return { poisoned: source };
    const events = await engine.options.store.readEvents(record.id);
    const created = events[0];
    if (created === undefined || created.type !== 'run.created')
      return { poisoned: 'the event log does not start with run.created' };
    const data = created.data ?? {};
    for (const [name, def] of Object.entries(source.workflow.document.inputs ?? {})) {
      if (def.secret === true && record.inputs[name] === '***') {
        return { poisoned: `input "${name}" is secret and is not kept in the store; start a new run` };
      }
    }
    const scope = engine.buildScope(
      source,
      record.inputs,
      record.id,
      record.trigger,
      data.event ?? null,
      record.startedAt ?? record.createdAt,
    );
    const force = Array.isArray(data.force) ? (data.force as string[]) : [];
    const machine = engine.buildMachine(record.id, source, scope, force);
    for (const e of events.slice(1)) machine.apply(e);
    return { poisoned: null, machine, source, scope };
  } catch (error) {
    return { poisoned: (error as Error).message };
  }
}
