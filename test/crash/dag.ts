// C1's workflow: a seeded 200-task DAG mixing noop, journaling shell tasks, http POSTs to the
// recorder, two 20-way for_each tasks (one shell, one http), short sleeps and cache hits. Tasks
// sit in layers; each needs one or two tasks of the layer before, so the run has depth (sleeps on
// the critical path) as well as width (up to the engine's capacity at once).
import { JOURNAL_LINE, prng, unitName } from './harness.ts';
import type { Expectations } from './invariants.ts';

export interface Dag {
  readonly yaml: string;
  readonly tasks: number;
  readonly expect: Expectations;
  /** Units by kind, for the figures. */
  readonly kinds: Readonly<Record<string, number>>;
}

export interface DagOptions {
  readonly tasks?: number;
  readonly width?: number;
  readonly fanout?: number;
}

const SHELL_ENV = 'env: { JOURNAL: "${{ inputs.journal }}" }';

export function generateDag(seed: number, options: DagOptions = {}): Dag {
  const random = prng(seed);
  const total = options.tasks ?? 200;
  const width = options.width ?? 4;
  const fanout = options.fanout ?? 20;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const id = (i: number): string => `t${String(i).padStart(3, '0')}`;
  const journaled = new Set<string>();
  const posting = new Map<string, string>();
  const neverRun = new Set<string>();
  const kinds: Record<string, number> = { noop: 0, shell: 0, http: 0, sleep: 0, cached: 0 };
  const forEachShell = Math.floor(total * 0.3);
  const forEachHttp = Math.floor(total * 0.65);
  const cacheTwins = new Set([Math.floor(total * 0.2), Math.floor(total * 0.5), Math.floor(total * 0.8)]);
  const lines = [
    `name: crash_dag_${seed}`,
    'inputs:',
    '  journal: { type: string }',
    '  base: { type: string }',
    'tasks:',
  ];
  for (let i = 0; i < total; i++) {
    const t = id(i);
    const layer = Math.floor(i / width);
    const needs = new Set<string>();
    if (layer > 0) {
      const previous = Array.from({ length: width }, (_, k) => id((layer - 1) * width + k));
      needs.add(pick(previous));
      if (random() < 0.4) needs.add(pick(previous));
    }
    const twinOf = cacheTwins.has(i - width) ? id(i - width) : undefined;
    if (twinOf !== undefined) needs.add(twinOf);
    lines.push(`  ${t}:`);
    if (needs.size > 0) lines.push(`    needs: [${[...needs].join(', ')}]`);
    if (i === forEachShell || i === forEachHttp) {
      lines.push(`    for_each: [${Array.from({ length: fanout }, (_, k) => k).join(', ')}]`);
      if (i === forEachShell) {
        lines.push(
          '    shell:',
          `      run: '${JOURNAL_LINE}'`,
          '      env: { JOURNAL: "${{ inputs.journal }}", ITEM: "${{ index }}" }',
        );
        for (let k = 0; k < fanout; k++) journaled.add(unitName(t, k));
        kinds.shell! += fanout;
      } else {
        lines.push(
          '    http:',
          '      method: POST',
          `      url: "\${{ inputs.base }}/effect/${t}/\${{ index }}"`,
          '      json: { n: "${{ index }}" }',
        );
        for (let k = 0; k < fanout; k++) posting.set(unitName(t, k), `/effect/${t}/${k}`);
        kinds.http! += fanout;
      }
      continue;
    }
    if (cacheTwins.has(i) || twinOf !== undefined) {
      // The twin needs the first and shares its key: it is a cache hit and must never execute.
      const key = twinOf ?? t;
      lines.push(
        `    cache: { key: "c-\${{ run.id }}-${key}" }`,
        '    shell:',
        `      run: '${JOURNAL_LINE}'`,
        `      ${SHELL_ENV}`,
      );
      journaled.add(t);
      if (twinOf !== undefined) {
        neverRun.add(t);
        kinds.cached!++;
      } else kinds.shell!++;
      continue;
    }
    const r = random();
    if (r < 0.22) {
      lines.push('    noop: {}');
      kinds.noop!++;
    } else if (r < 0.6) {
      lines.push('    shell:', `      run: '${JOURNAL_LINE}'`, `      ${SHELL_ENV}`);
      journaled.add(t);
      kinds.shell!++;
    } else if (r < 0.82) {
      lines.push(
        '    http:',
        '      method: POST',
        `      url: "\${{ inputs.base }}/effect/${t}"`,
        `      json: { task: ${t} }`,
      );
      posting.set(t, `/effect/${t}`);
      kinds.http!++;
    } else {
      lines.push(`    sleep: { duration: ${100 + Math.floor(random() * 151)}ms }`);
      kinds.sleep!++;
    }
  }
  return { yaml: `${lines.join('\n')}\n`, tasks: total, expect: { journaled, posting, neverRun }, kinds };
}
