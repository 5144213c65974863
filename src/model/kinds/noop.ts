import { z } from 'zod';
import type { KindDefinition } from './types.ts';

export const noop: KindDefinition = {
  name: 'noop',
  description: 'Does nothing: joins, tests and benchmarks.',
  spec: z.union([z.null(), z.strictObject({})]),
  outputs: [],
};
