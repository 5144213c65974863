/**
 * `workflow`: runs another workflow as a child run and waits for it; the child's outputs become
 * this task's. The engine keeps the child id in the task's checkpoint, so after a restart or a
 * retry the same child run is picked up (and resumed) rather than started again.
 */
import type { z } from 'zod';
import { workflow as definition, type workflowSpec } from '../model/kinds/workflow.ts';
import { type Kind, TaskFailure } from './types.ts';

type WorkflowSpec = z.output<typeof workflowSpec>;

export const workflowKind: Kind<WorkflowSpec> = {
  definition,
  async execute(spec, ctx) {
    const child = await ctx.child({
      ...(spec.file === undefined ? {} : { file: spec.file }),
      ...(spec.name === undefined ? {} : { name: spec.name }),
      inputs: spec.inputs ?? {},
    });
    if (child.state === 'succeeded') return { result: { ...child.outputs } };
    const reason = child.state === 'cancelled' ? 'cancelled' : 'error';
    throw new TaskFailure(reason, `child run ${child.runId} ${child.state}${child.error ? `: ${child.error}` : ''}`);
  },
};
