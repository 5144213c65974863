import type { z } from 'zod';
import type { ErrorCode } from '../../errors.ts';

/** A problem a kind finds in its own spec beyond the schema (fields that exclude each other). */
export interface KindIssue {
  readonly path: readonly string[];
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint?: string;
}

/**
 * What the validator needs to know of a task kind: the schema of its spec and the outputs it
 * produces. Execution lives elsewhere (the engine's kinds); plugins register the same shape.
 */
export interface KindDefinition {
  readonly name: string;
  readonly description: string;
  readonly spec: z.ZodType;
  /** Output names the kind always produces, or 'dynamic' when they are only known at run time. */
  readonly outputs: readonly string[] | 'dynamic';
  /** Whether `response` is in scope in the task's `outputs` and `assert` (HTTP kinds). */
  readonly response?: boolean;
  /** Spec fields (as paths) holding one `${{ }}` condition on the task's own result, like `poll.until`. */
  readonly responseConditions?: readonly (readonly string[])[];
  /** Spec fields whose text goes into a shell script, checked for unsafe `${{ }}` splicing. */
  readonly shellScriptFields?: readonly string[];
  /** Spec fields of which exactly one (or, if optional, at most one) may be set. */
  readonly exclusive?: { readonly fields: readonly string[]; readonly optional?: boolean };
  /** Other rules beyond the schema, called with the spec as written. */
  readonly check?: (spec: Readonly<Record<string, unknown>>) => KindIssue[];
}
