import { z } from 'zod';
import { scalar, text } from '../common.ts';
import { checkEnvNames } from './checks.ts';
import type { KindDefinition } from './types.ts';

export const shellSpec = z.strictObject({
  run: text
    .optional()
    .meta({ description: 'A script. Pass values through env; ${{ }} here must stand as a whole shell word.' }),
  command: z.array(z.string()).min(1).optional().meta({ description: 'An argv list, run without a shell.' }),
  shell: z.enum(['bash', 'sh']).optional(),
  env: z.record(z.string(), scalar).optional(),
  cwd: z.string().optional(),
  stdin: z.string().optional(),
  expect: z.strictObject({ exit_code: z.union([z.int(), z.array(z.int()).min(1)]) }).optional(),
});

export const shell: KindDefinition = {
  name: 'shell',
  description: 'Runs a script or a command.',
  spec: shellSpec,
  outputs: 'dynamic',
  shellScriptFields: ['run'],
  exclusive: { fields: ['run', 'command'] },
  check: (spec) => checkEnvNames(spec.env, ['env']),
};
