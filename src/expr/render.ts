/** Evaluating templates and whole values that contain them. */
import { type Budget, compileExpression, DEFAULT_BUDGET } from './cel.ts';
import { collectReferences, type Reference } from './refs.ts';
import { hasTemplate, parseTemplate } from './template.ts';

/** Text form of a value interpolated into a longer string: strings as is, null as "", the rest as JSON. */
function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Evaluates one string. A string that is exactly one `${{ }}` keeps the expression's type;
 * otherwise each expression is interpolated as text. The result is never evaluated again, so
 * `${{ }}` text inside data stays literal.
 */
export function evaluateTemplate(
  s: string,
  scope: Readonly<Record<string, unknown>>,
  budget: Budget = DEFAULT_BUDGET,
): unknown {
  if (!hasTemplate(s)) return s;
  const template = parseTemplate(s);
  if (template.whole) {
    const part = template.parts[0]!;
    return compileExpression((part as { source: string }).source).evaluate(scope, budget);
  }
  let out = '';
  for (const part of template.parts) {
    out += part.kind === 'text' ? part.text : asText(compileExpression(part.source).evaluate(scope, budget));
  }
  return out;
}

/** Evaluates every string inside a JSON-like value (maps, lists), keys left as written. */
export function renderValue(
  value: unknown,
  scope: Readonly<Record<string, unknown>>,
  budget: Budget = DEFAULT_BUDGET,
): unknown {
  if (typeof value === 'string') return evaluateTemplate(value, scope, budget);
  if (Array.isArray(value)) return value.map((v) => renderValue(v, scope, budget));
  if (typeof value === 'object' && value !== null) {
    const out = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) out[k] = renderValue(v, scope, budget);
    return out;
  }
  return value;
}

const referenceCache = new Map<string, readonly Reference[]>();

/**
 * Every reference of every expression in a string (for the UI and static checks). Results are
 * kept per string (a workflow repeats the same condition on many tasks); treat them as read-only.
 */
export function templateReferences(s: string): Reference[] {
  if (!hasTemplate(s)) return [];
  let refs = referenceCache.get(s);
  if (refs === undefined) {
    refs = parseTemplate(s).parts.flatMap((p) =>
      p.kind === 'expr' ? collectReferences(compileExpression(p.source).ast) : [],
    );
    if (referenceCache.size > 10_000) referenceCache.clear();
    referenceCache.set(s, refs);
  }
  return refs as Reference[];
}
