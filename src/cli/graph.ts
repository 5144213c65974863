/** `rivet graph FILE --format text|mermaid|dot` */
import { loadWorkflow } from '../load.ts';
import type { Task, Workflow } from '../model/index.ts';
import { EXIT } from './main.ts';
import { type Io, paint, renderDiagnostic } from './output.ts';

export type GraphFormat = 'text' | 'mermaid' | 'dot';

function marks(task: Task): string[] {
  const m: string[] = [];
  if (task.when !== 'success') m.push(`when: ${task.when}`);
  if (task.document.if !== undefined) m.push('if');
  if (task.document.for_each !== undefined) m.push('for_each');
  if (task.document.cache !== undefined) m.push('cache');
  return m;
}

export function renderText(wf: Workflow, io?: Io['stdout']): string {
  const style = (s: Parameters<typeof paint>[1], t: string): string => (io ? paint(io, s, t) : t);
  const width = Math.max(...wf.tasks.map((t) => t.id.length));
  const kindWidth = Math.max(...wf.tasks.map((t) => t.kind.length));
  const lines = [`${style('bold', wf.name)} (${wf.tasks.length} task${wf.tasks.length === 1 ? '' : 's'})`];
  wf.dag.layers().forEach((ids, layer) => {
    lines.push(style('dim', `layer ${layer}`));
    for (const id of ids) {
      const t = wf.task(id)!;
      const needs = t.needs.length > 0 ? `  ← ${t.needs.join(', ')}` : '';
      const m = marks(t);
      // Pad the kind only when something follows it, so lines carry no trailing spaces.
      const tail = `${needs}${m.length > 0 ? style('yellow', `  [${m.join('] [')}]`) : ''}`;
      const kind = tail === '' ? t.kind : t.kind.padEnd(kindWidth);
      lines.push(`  ${id.padEnd(width)}  ${style('cyan', kind)}${tail}`);
    }
  });
  return `${lines.join('\n')}\n`;
}

const mermaidText = (s: string): string => s.replace(/"/g, '#quot;');

export function renderMermaid(wf: Workflow): string {
  const lines = ['flowchart TD'];
  for (const t of wf.tasks) {
    const m = marks(t);
    lines.push(
      `  ${t.id}["${mermaidText(t.id)}<br/><small>${t.kind}${m.length ? ` · ${m.join(' · ')}` : ''}</small>"]`,
    );
  }
  for (const t of wf.tasks) {
    for (const n of t.needs)
      lines.push(t.when === 'success' ? `  ${n} --> ${t.id}` : `  ${n} -. ${t.when} .-> ${t.id}`);
  }
  return `${lines.join('\n')}\n`;
}

const dotId = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

export function renderDot(wf: Workflow): string {
  const lines = [
    `digraph ${dotId(wf.name)} {`,
    '  rankdir=TB;',
    '  node [shape=box, style=rounded, fontname="sans-serif"];',
  ];
  for (const t of wf.tasks) {
    const m = marks(t);
    lines.push(`  ${dotId(t.id)} [label=${dotId(`${t.id}\n${t.kind}${m.length ? `\n${m.join(', ')}` : ''}`)}];`);
  }
  for (const t of wf.tasks) {
    for (const n of t.needs) {
      lines.push(
        `  ${dotId(n)} -> ${dotId(t.id)}${t.when === 'success' ? '' : ` [style=dashed, label=${dotId(t.when)}]`};`,
      );
    }
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export async function graphCommand(file: string, format: GraphFormat, io: Io): Promise<number> {
  const loaded = await loadWorkflow(file);
  if (loaded.workflow === undefined) {
    for (const d of loaded.diagnostics)
      io.stderr.write(`${renderDiagnostic(io.stderr, file, d, loaded.sourceMap.text)}\n`);
    return EXIT.invalid;
  }
  const wf = loaded.workflow;
  if (wf.document.process !== undefined) {
    io.stderr.write(`${file} describes a process (${wf.name}), which has no task graph\n`);
    return EXIT.ok;
  }
  io.stdout.write(
    format === 'mermaid' ? renderMermaid(wf) : format === 'dot' ? renderDot(wf) : renderText(wf, io.stdout),
  );
  return EXIT.ok;
}
