/** Starting the run of a schedule's tick: one run per tick, whatever crashes in between. */
import { resolveInputs } from '../model/inputs.ts';
import type { ServerContext } from './context.ts';

export interface Tick {
  readonly schedule: {
    readonly id: string;
    readonly workflow: string;
    readonly inputs: Readonly<Record<string, unknown>>;
  };
  readonly tick: number;
  readonly runId: string;
  readonly reason: 'tick' | 'catch_up' | 'manual';
}

export async function startScheduledRun(ctx: ServerContext, t: Tick): Promise<'started' | 'exists'> {
  // The tick's run id is fixed: a run that exists is this tick's, started before a crash.
  if ((await ctx.store.getRun(t.runId)) !== undefined) return 'exists';
  const w = ctx.registry.get(t.schedule.workflow);
  if (w === undefined || w.kind !== 'tasks') throw new Error(`the workflow ${t.schedule.workflow} is gone`);
  const checked = resolveInputs(w.source.workflow.document.inputs, t.schedule.inputs);
  if (!checked.ok) {
    throw new Error(
      `the schedule's inputs are not valid: ${checked.problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`,
    );
  }
  const handle = await ctx.engine.startRun({
    id: t.runId,
    source: w.source,
    inputs: checked.values,
    trigger: 'schedule',
    event: { schedule: t.schedule.id, tick: new Date(t.tick).toISOString(), reason: t.reason },
  });
  handle.done.catch(() => undefined);
  return 'started';
}
