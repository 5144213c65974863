/** Converting data between Rivet's JSON-like values and CEL's. */
import { ExpressionError } from './errors.ts';

/** Containers made by toCel from scope data: read as they are, not weighed by the budget. */
const scopeValues = new WeakSet<object>();

export function isScopeValue(value: object): boolean {
  return scopeValues.has(value);
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * JSON-like data to CEL values: integers become int (bigint), objects become null-prototype
 * copies holding only own enumerable data. Anything else (functions, class instances, symbols)
 * never reaches an expression.
 */
export function toCel(value: unknown, depth = 0): unknown {
  if (depth > 200) throw new ExpressionError('evaluation', 'scope data is nested too deeply');
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return value;
    case 'number':
      return Number.isSafeInteger(value) ? BigInt(value) : value;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        const list = value.map((v) => toCel(v, depth + 1));
        scopeValues.add(list);
        return list;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== null && proto !== Object.prototype) return null;
      const out = Object.create(null) as Record<string, unknown>;
      for (const key of Object.keys(value)) {
        if (FORBIDDEN.has(key)) continue;
        out[key] = toCel((value as Record<string, unknown>)[key], depth + 1);
      }
      scopeValues.add(out);
      return out;
    }
    default:
      return null;
  }
}

/** CEL values back to JSON-like data (null-prototype objects; int → number when safe, else string). */
export function fromCel(value: unknown, depth = 0): unknown {
  if (depth > 200) throw new ExpressionError('evaluation', 'result is nested too deeply');
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value.toString();
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) return value.map((v) => fromCel(v, depth + 1));
      if (value instanceof Uint8Array) return bytesToBase64(value);
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Map) {
        const out = Object.create(null) as Record<string, unknown>;
        for (const [k, v] of value) if (!FORBIDDEN.has(String(k))) out[String(k)] = fromCel(v, depth + 1);
        return out;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto === null || proto === Object.prototype) {
        const out = Object.create(null) as Record<string, unknown>;
        for (const key of Object.keys(value)) {
          if (!FORBIDDEN.has(key)) out[key] = fromCel((value as Record<string, unknown>)[key], depth + 1);
        }
        return out;
      }
      // An optional (`inputs.?x`, `optional.of(1)`) is its value, or null when empty.
      const optional = value as { hasValue?: unknown; value?: unknown };
      if (typeof optional.hasValue === 'function' && typeof optional.value === 'function') {
        return (optional.hasValue as () => boolean)() ? fromCel((optional.value as () => unknown)(), depth + 1) : null;
      }
      // Durations, unsigned ints and types render as their CEL text.
      return String(value);
    }
    default:
      return null;
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
