/** Static checks shared by kinds: values written literally (no `${{ }}`) can be judged early. */
import { ENV_NAME_RE } from '../common.ts';
import type { KindIssue } from './types.ts';

const isLiteral = (v: unknown): v is string => typeof v === 'string' && !v.includes('${{');

/**
 * A literal URL must be absolute http(s) (or, with `relative`, a path resolved against the request's
 * URL). A templated one is checked when the run renders it.
 */
export function checkUrl(url: unknown, path: readonly string[], options: { relative?: boolean } = {}): KindIssue[] {
  if (!isLiteral(url) || (options.relative === true && url.startsWith('/'))) return [];
  let ok: boolean;
  try {
    const u = new URL(url);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    ok = false;
  }
  return ok
    ? []
    : [
        {
          path,
          code: 'RV204',
          message: `"${url}" is not an absolute http(s) URL`,
          hint: 'write it in full: https://host/path',
        },
      ];
}

/** Environment variable names: letters, digits and _, not starting with a digit. */
export function checkEnvNames(env: unknown, path: readonly string[]): KindIssue[] {
  if (typeof env !== 'object' || env === null) return [];
  return Object.keys(env)
    .filter((name) => !ENV_NAME_RE.test(name))
    .map((name) => ({
      path: [...path, name],
      code: 'RV204' as const,
      message: `"${name}" is not a valid environment variable name`,
      hint: 'use letters, digits and _, not starting with a digit',
    }));
}

// RFC 9110 token characters for field names.
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Header names must be tokens; values may not hold CR, LF or NUL (header injection). */
export function checkHeaders(headers: unknown, path: readonly string[]): KindIssue[] {
  if (typeof headers !== 'object' || headers === null) return [];
  const issues: KindIssue[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME_RE.test(name)) {
      issues.push({ path: [...path, name], code: 'RV204', message: `"${name}" is not a valid HTTP header name` });
    } else if (typeof value === 'string' && /[\r\n\0]/.test(value)) {
      issues.push({
        path: [...path, name],
        code: 'RV204',
        message: `the value of header "${name}" contains a line break`,
      });
    }
  }
  return issues;
}
