/**
 * Validation figures: a 10,000-task layered workflow (100 layers x 100 tasks, each needing two
 * tasks of the layer above, a tenth of them with a templated field), validated in-process and by
 * the whole `rivet validate` process; beside the cost of only parsing the same YAML.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { parseDocument } from 'yaml';
import { validateWorkflowText } from '../src/model/index.ts';
import { type Figure, time, timeProcess } from './harness.ts';

export function layeredWorkflow(layers: number, width: number): string {
  const lines = ['name: bench_layered', 'inputs:', '  label: { type: string, default: bench }', 'tasks:'];
  for (let l = 0; l < layers; l++) {
    for (let w = 0; w < width; w++) {
      const id = `t${l}_${w}`;
      lines.push(`  ${id}:`);
      if (l > 0) lines.push(`    needs: [t${l - 1}_${w}, t${l - 1}_${(w + 1) % width}]`);
      if (w % 10 === 0) lines.push(`    if: \${{ inputs.label != "skip" }}`);
      lines.push('    noop: {}');
    }
  }
  return `${lines.join('\n')}\n`;
}

export function validateFigures(): Figure[] {
  const text = layeredWorkflow(100, 100);
  const dir = mkdtempSync(join(tmpdir(), 'rivet-bench-'));
  const file = join(dir, 'layered.yaml');
  writeFileSync(file, text);
  const result = validateWorkflowText(text);
  if (result.workflow === undefined || result.workflow.tasks.length !== 10_000) {
    throw new Error(`bench workflow invalid: ${result.diagnostics[0]?.message}`);
  }
  const validate = time(() => validateWorkflowText(text), 5);
  const parseOnly = time(() => load(text), 5);
  const yamlPackage = time(() => parseDocument(text), 3, 1);
  const bin = fileURLToPath(new URL('../bin/rivet.js', import.meta.url));
  const cli = timeProcess([bin, 'validate', file], 5);
  const nodeStart = timeProcess(['-e', '0'], 5);
  const version = timeProcess([bin, '--version'], 7);
  const example = fileURLToPath(new URL('../examples/provision_bucket.yaml', import.meta.url));
  const small = timeProcess([bin, 'validate', example], 7);
  // A fresh compile-cache folder for each start: the first run after an install or an upgrade.
  const fresh = (): NodeJS.ProcessEnv => ({ ...process.env, NODE_COMPILE_CACHE: mkdtempSync(join(dir, 'cache-')) });
  const smallCold = timeProcess([bin, 'validate', example], 5, fresh);
  return [
    {
      name: 'validate 10,000-task workflow (in-process)',
      value: validate,
      unit: 'ms',
      baseline: { name: 'js-yaml load of the same text', value: parseOnly },
      goal: '< 1000 ms',
    },
    {
      name: 'YAML parse with positions, `yaml` package parseDocument',
      value: yamlPackage,
      unit: 'ms',
      baseline: { name: 'js-yaml load', value: parseOnly },
    },
    {
      name: '`rivet validate` 10,000-task file, whole process',
      value: cli,
      unit: 'ms',
      baseline: { name: 'node -e 0', value: nodeStart },
      goal: '< 1000 ms',
    },
    {
      name: '`rivet validate` examples/provision_bucket.yaml (10 tasks), whole process',
      value: small,
      unit: 'ms',
      baseline: { name: 'node -e 0', value: nodeStart },
    },
    {
      name: 'the same, first start (empty compile cache)',
      value: smallCold,
      unit: 'ms',
      baseline: { name: 'node -e 0', value: nodeStart },
    },
    {
      name: '`rivet --version`, whole process',
      value: version,
      unit: 'ms',
      baseline: { name: 'node -e 0', value: nodeStart },
      goal: '<= 100 ms',
    },
  ];
}
