import { z } from 'zod';
import { duration, text } from '../common.ts';
import type { KindDefinition } from './types.ts';

export const sleepSpec = z.strictObject({
  duration: duration.optional(),
  until: text.optional().meta({ description: 'An RFC 3339 time to wait for.' }),
});

export const sleep: KindDefinition = {
  name: 'sleep',
  description: 'Waits durably for a duration or until a time.',
  spec: sleepSpec,
  outputs: [],
  exclusive: { fields: ['duration', 'until'] },
};
