import type { KindIssue } from './types.ts';

/** Exactly one (or, with `optional`, at most one) of `fields` must be set. */
export function exactlyOne(
  spec: Readonly<Record<string, unknown>>,
  fields: readonly string[],
  options: { optional?: boolean } = {},
): KindIssue[] {
  const present = fields.filter((f) => spec[f] !== undefined);
  if (present.length > 1) {
    return [
      {
        path: [present[1]!],
        code: 'RV204',
        message: `"${present[0]}" and "${present[1]}" cannot be used together`,
        hint: `keep one of: ${fields.join(', ')}`,
      },
    ];
  }
  if (present.length === 0 && options.optional !== true) {
    return [{ path: [], code: 'RV203', message: `one of ${fields.map((f) => `"${f}"`).join(', ')} is required` }];
  }
  return [];
}

/** The same rule as JSON Schema, attached to the spec's schema with `.meta()` for editors. */
export function exclusiveJsonSchema(fields: readonly string[], optional = false): Record<string, unknown> {
  if (!optional) return { oneOf: fields.map((f) => ({ required: [f] })) };
  const pairs = fields.flatMap((a, i) => fields.slice(i + 1).map((b) => ({ required: [a, b] })));
  return { not: { anyOf: pairs } };
}
