/** `noop`: does nothing and succeeds; joins, tests and benchmarks. */
import { noop as definition } from '../model/kinds/noop.ts';
import type { Kind, TaskResult } from './types.ts';

const EMPTY: TaskResult = { result: Object.freeze(Object.create(null) as Record<string, unknown>) };

export const noopKind: Kind = {
  definition,
  execute: () => Promise.resolve(EMPTY),
};
