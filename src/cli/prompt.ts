/**
 * The terminal prompt for approvals in local mode: asks approve or reject, a comment, and the
 * form fields (Enter keeps a field's default). Another shell can decide meanwhile with
 * `rivet approve`; the prompt is then withdrawn.
 */
import { createInterface } from 'node:readline/promises';
import type { ApprovalPrompt } from '../engine/types.ts';
import type { Decision } from '../kinds/types.ts';
import { fromText } from '../model/inputs.ts';
import type { Io } from './output.ts';
import { printable } from './output.ts';
import { unitName } from './report.ts';

export function terminalPrompt(
  io: Io,
  input: NodeJS.ReadableStream,
  who: string,
  around: { pause?(): void; resume?(): void },
): (request: ApprovalPrompt, signal: AbortSignal) => Promise<Decision | null> {
  let queue = Promise.resolve<unknown>(undefined);
  return (request, signal) => {
    const next = queue.then(() => ask(io, input, who, request, signal, around));
    queue = next.catch(() => undefined);
    return next;
  };
}

async function ask(
  io: Io,
  input: NodeJS.ReadableStream,
  who: string,
  request: ApprovalPrompt,
  signal: AbortSignal,
  around: { pause?(): void; resume?(): void },
): Promise<Decision | null> {
  if (signal.aborted) return null;
  around.pause?.();
  const rl = createInterface({ input, output: io.stderr as NodeJS.WritableStream, terminal: true });
  try {
    const name = unitName(request.task, request.item);
    io.stderr.write(`\napproval needed: ${name} in run ${request.runId}\n  ${printable(request.message ?? '')}\n`);
    io.stderr.write(`  (or from another shell: rivet approve ${request.runId} ${name} [--reject])\n`);
    const answer = (await rl.question('approve? [y/n] ', { signal })).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes' && answer !== 'n' && answer !== 'no') return null;
    const comment = (await rl.question('comment (optional): ', { signal })).trim();
    const fields: Record<string, unknown> = {};
    for (const [field, def] of Object.entries(
      (request.fields ?? {}) as Record<string, { type?: string; default?: unknown }>,
    )) {
      const shown = def.default === undefined ? '' : ` [${JSON.stringify(def.default)}]`;
      const text = (await rl.question(`${field}${shown}: `, { signal })).trim();
      if (text !== '') fields[field] = fromText(def.type ?? 'string', text);
    }
    return { decision: answer.startsWith('y') ? 'approve' : 'reject', approver: who, comment, fields };
  } catch {
    return null;
  } finally {
    rl.close();
    around.resume?.();
  }
}
