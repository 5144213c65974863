/**
 * Validates one big document (big-documents.ts) in a fresh process and prints its figures
 * as JSON: `node --expose-gc test/corpus/measure.ts <index>`. Used by corpus.test.ts.
 */
import { validateWorkflowBytes } from '../../src/load.ts';
import { utf8 } from './cases.ts';
import { BIG_DOCUMENTS, BIG_VALID } from './big-documents.ts';

const issue = [...BIG_DOCUMENTS, ...BIG_VALID][Number(process.argv[2])];
if (issue === undefined) throw new Error(`no big document #${process.argv[2]}`);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
// Warm up with a mid-sized workflow first. V8 grows its young generation (the semi-spaces, up to
// ~48 MB of RSS on 64-bit) once per process, under the first sizable workload; charging that to
// whichever document comes first would measure the process, not the document. A long-running
// server pays it once. (With --max-semi-space-size=2 the same documents show the same per-document
// growth minus that step.)
{
  let warm = 'name: warm\ntasks:\n';
  for (let i = 0; i < 3000; i++) {
    warm += `  t${i}:\n    noop:\n${i > 0 ? `    needs: t${i - 1}\n    if: \${{ tasks.t${i - 1}.status == "x" }}\n` : ''}`;
  }
  for (let k = 0; k < 2; k++) validateWorkflowBytes(utf8(warm), 'warm.yaml');
}
const bytes = issue.bytes();
gc();
const before = process.memoryUsage();
const start = performance.now();
const result = validateWorkflowBytes(bytes, 'known.yaml');
const ms = performance.now() - start;
const after = process.memoryUsage();
const mb = (n: number): number => Math.round((n / 2 ** 20) * 10) / 10;
process.stdout.write(
  `${JSON.stringify({
    bytes: bytes.length,
    ms: Math.round(ms),
    rssMB: mb(after.rss - before.rss),
    heapMB: mb(after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers),
    diagnostics: result.diagnostics.length,
    codes: [...new Set(result.diagnostics.map((d) => d.code))],
  })}\n`,
);
