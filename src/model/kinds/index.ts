import { approval } from './approval.ts';
import { http } from './http.ts';
import { noop } from './noop.ts';
import { shell } from './shell.ts';
import { sleep } from './sleep.ts';
import type { KindDefinition } from './types.ts';
import { workflow } from './workflow.ts';

export type { KindDefinition } from './types.ts';

export const BUILTIN_KINDS: readonly KindDefinition[] = [http, shell, approval, sleep, workflow, noop];
