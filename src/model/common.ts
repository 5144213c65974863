/** Schema pieces shared by the workflow schema and the task kinds' specs. */
import { z } from 'zod';
import { DURATION_RE } from './duration.ts';

export { DURATION_RE, parseDuration } from './duration.ts';

/** Task, input and output names: usable in expressions as `tasks.<id>`, `inputs.<id>`. */
export const IDENTIFIER_RE = /^[a-z_][a-z0-9_]*$/;
/** Environment variable names. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const identifier = z.string().regex(IDENTIFIER_RE);
export const duration = z
  .string()
  .regex(DURATION_RE)
  .meta({ description: 'A duration such as 500ms, 30s, 5m, 1h30m or 2d.' });

/** Any text; may hold `${{ }}` expressions. */
export const text = z.string();
/** A scalar that may be templated. */
export const scalar = z.union([z.string(), z.number(), z.boolean()]);
export const stringList = z.array(z.string());

export const INPUT_TYPES = ['string', 'integer', 'number', 'boolean', 'list', 'object'] as const;
export type InputType = (typeof INPUT_TYPES)[number];

export const inputDefinition = z.strictObject({
  type: z.enum(INPUT_TYPES).default('string').meta({ description: 'The value type; string by default.' }),
  required: z.boolean().optional().meta({ description: 'The run cannot start without it.' }),
  default: z.unknown().optional(),
  title: z.string().optional(),
  description: z.string().optional(),
  pattern: z.string().optional().meta({ description: 'A regular expression a string value must match.' }),
  enum: z.array(scalar).min(1).optional(),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  secret: z.boolean().optional().meta({ description: 'Masked in forms, logs and outputs.' }),
});
export type InputDefinition = z.output<typeof inputDefinition>;

/** A YAML mapping as loaded: a non-null, non-array object. */
export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
