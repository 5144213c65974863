import { z } from 'zod';
import { scalar, text } from '../common.ts';
import { checkEnvNames } from './checks.ts';
import type { KindDefinition } from './types.ts';

export const shellSpec = z.strictObject({
  run: text
    .optional()
    .meta({ description: 'A script. Pass values through env; ${{ }} here must stand as a whole shell word.' }),
  command: z.array(z.string()).min(1).optional().meta({ description: 'An argv list, run without a shell.' }),
  shell: z.enum(['bash', 'sh']).optional().meta({ description: 'The shell for run (default bash).' }),
  env: z
    .record(z.string(), scalar)
    .optional()
    .meta({ description: 'Environment variables: how values reach a script.' }),
  cwd: z.string().optional().meta({ description: 'Working folder.' }),
  stdin: z.string().optional().meta({ description: 'Text written to standard input.' }),
  expect: z
    .strictObject({ exit_code: z.union([z.int(), z.array(z.int()).min(1)]) })
    .optional()
    .meta({ description: 'Exit codes that count as success (default 0).' }),
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
