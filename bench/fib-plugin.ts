/** A plugin kind for the chain benchmark: computes fib(n) in-process (the Windmill shape). */
import { z } from 'zod';

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default {
  apiVersion: 1,
  kinds: [
    {
      name: 'fib',
      description: 'Computes fib(n).',
      spec: z.strictObject({ n: z.int().min(0).max(30) }),
      outputs: ['value'],
      execute: (spec: { n: number }) => Promise.resolve({ result: { value: fib(spec.n) } }),
    },
  ],
};

export { fib };
