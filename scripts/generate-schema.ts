// Writes schema/workflow.schema.json from the same zod schema the validator uses.
// `npm run schema` regenerates it; test/schema.test.ts fails when the checked-in file is stale.
import { writeFileSync } from 'node:fs';
import { BUILTIN_KINDS, workflowJsonSchema } from '../src/model/index.ts';

export function renderSchema(): string {
  return `${JSON.stringify(workflowJsonSchema(BUILTIN_KINDS), null, 2)}\n`;
}

if (import.meta.main) {
  const out = new URL('../schema/workflow.schema.json', import.meta.url);
  writeFileSync(out, renderSchema());
  process.stdout.write(`wrote ${out.pathname}\n`);
}
