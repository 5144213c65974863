import { z } from 'zod';
import type { KindDefinition } from './types.ts';

export const workflowSpec = z.strictObject({
  file: z.string().optional().meta({ description: 'Path of the child workflow, relative to this file.' }),
  name: z.string().optional().meta({ description: 'Name of a workflow registered on the server.' }),
  inputs: z.record(z.string(), z.unknown()).optional(),
});

export const workflow: KindDefinition = {
  name: 'workflow',
  description: 'Runs another workflow as a child run.',
  spec: workflowSpec,
  outputs: 'dynamic',
  exclusive: { fields: ['file', 'name'] },
};
