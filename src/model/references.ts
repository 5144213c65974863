/**
 * Every reference of every `${{ }}` in a workflow, with where it is written: what validation
 * checks one by one, as a list for tools (the UI draws data edges between tasks from it).
 */
import { ExpressionError } from '../expr/cel.ts';
import { type Reference, templateReferences } from '../expr/index.ts';
import { TemplateSyntaxError } from '../expr/template.ts';
import type { DocPath } from './diagnostics.ts';

export interface TemplateReferences {
  /** Where the string is in the document. */
  readonly path: DocPath;
  readonly references: readonly Reference[];
}

/** References of every string of a (valid) workflow document that holds `${{ }}`. */
export function listReferences(document: unknown): TemplateReferences[] {
  const out: TemplateReferences[] = [];
  const walk = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      if (!value.includes('${{')) return;
      try {
        out.push({ path, references: templateReferences(value) });
      } catch (err) {
        // Validation reports broken expressions; a listing skips them.
        if (!(err instanceof ExpressionError || err instanceof TemplateSyntaxError)) throw err;
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
    else if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    }
  };
  walk(document, []);
  return out;
}

/** Task-to-task data edges: `to` reads `tasks.<from>` somewhere in its own fields. */
export function dataEdges(document: unknown): { from: string; to: string }[] {
  const edges = new Map<string, { from: string; to: string }>();
  for (const { path, references } of listReferences(document)) {
    if (path[0] !== 'tasks' || typeof path[1] !== 'string') continue;
    for (const r of references) {
      const from = r.root === 'tasks' ? r.path[0] : undefined;
      if (from !== undefined && from !== path[1]) edges.set(`${from}>${path[1]}`, { from, to: path[1] });
    }
  }
  return [...edges.values()];
}
