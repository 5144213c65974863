import { z } from 'zod';
import { duration, inputDefinition, text } from '../common.ts';
import type { KindDefinition } from './types.ts';

export const approvalSpec = z.strictObject({
  message: text,
  approvers: z.array(z.string()).optional().meta({ description: 'Users or groups allowed to decide.' }),
  timeout: duration.optional(),
  default: z
    .enum(['approve', 'reject'])
    .optional()
    .meta({ description: 'The decision taken when the timeout passes.' }),
  fields: z.record(z.string(), inputDefinition).optional().meta({ description: 'Form fields the approver fills in.' }),
});

export const approval: KindDefinition = {
  name: 'approval',
  description: 'Waits for a person to approve or reject.',
  spec: approvalSpec,
  outputs: ['decision', 'approver', 'comment', 'fields'],
  check: (spec) =>
    spec.default !== undefined && spec.timeout === undefined
      ? [
          {
            path: ['default'],
            code: 'RV204',
            message: '"default" is the decision taken when the timeout passes, and there is no timeout',
            hint: 'add a timeout, such as timeout: 72h',
          },
        ]
      : [],
};
