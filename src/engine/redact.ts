/**
 * Secret redaction. Every secret value is masked in every form it can take on the way out: as
 * is, each line of a multi-line value, JSON-escaped, URL-encoded and Base64. Values shorter than
 * MIN_SECRET_LENGTH are not masked (they would mask ordinary words everywhere); the engine warns
 * about them once. Redaction happens before anything is written or printed.
 */
export const MIN_SECRET_LENGTH = 4;
export const MASK = '***';

function forms(value: string): string[] {
  const out = new Set<string>([value]);
  if (value.includes('\n')) {
    for (const line of value.split(/\r?\n/)) if (line.trim().length >= MIN_SECRET_LENGTH) out.add(line.trim());
  }
  for (const v of [...out]) {
    out.add(JSON.stringify(v).slice(1, -1));
    out.add(encodeURIComponent(v));
    out.add(encodeURIComponent(v).replace(/%20/g, '+'));
    // application/x-www-form-urlencoded (query strings, forms) also encodes ' ( ) ! ~ *.
    out.add(new URLSearchParams({ v }).toString().slice(2));
    const b64 = Buffer.from(v, 'utf8').toString('base64');
    out.add(b64);
    out.add(b64.replace(/=+$/, ''));
    out.add(b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
  }
  return [...out].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class Redactor {
  readonly #pattern: RegExp | null;
  /** Secret names whose values are too short to mask. */
  readonly tooShort: readonly string[];

  constructor(secrets: Readonly<Record<string, string>>) {
    const all = new Set<string>();
    const short: string[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      if (value.length < MIN_SECRET_LENGTH) {
        if (value.length > 0) short.push(name);
        continue;
      }
      // A JSON secret also hides each of its string fields.
      for (const f of forms(value)) all.add(f);
      for (const field of jsonStrings(value)) for (const f of forms(field)) all.add(f);
      // A URL secret also hides its password, which travels alone (Basic auth, a parsed URL).
      for (const field of urlPasswords(value)) for (const f of forms(field)) all.add(f);
    }
    // Longest first, so a secret that contains another is masked whole.
    const sorted = [...all].sort((a, b) => b.length - a.length);
    this.#pattern = sorted.length === 0 ? null : new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
    this.tooShort = short;
  }

  get active(): boolean {
    return this.#pattern !== null;
  }

  text(s: string): string {
    if (this.#pattern === null) return s;
    return s.replace(this.#pattern, MASK);
  }

  /** Masks every string inside a JSON-like value (keys too). */
  value<T>(v: T): T {
    if (this.#pattern === null) return v;
    return walk(v, (s) => this.text(s)) as T;
  }
}

function walk(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => walk(x, f));
  if (v !== null && typeof v === 'object') {
    const out = Object.create(null) as Record<string, unknown>;
    for (const [k, x] of Object.entries(v)) out[f(k)] = walk(x, f);
    return out;
  }
  return v;
}

/** Passwords of the URLs inside a value (`https://user:PASSWORD@host`), as written and decoded. */
function urlPasswords(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:([^\s/?#@]+)@/gi)) {
    out.push(m[1]!);
    try {
      out.push(decodeURIComponent(m[1]!));
    } catch {
      // not %-encoded text: kept as written
    }
  }
  return out.filter((p) => p.length >= MIN_SECRET_LENGTH);
}

function jsonStrings(value: string): string[] {
  const t = value.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return [];
  try {
    const out: string[] = [];
    const visit = (v: unknown): void => {
      if (typeof v === 'string') {
        if (v.length >= MIN_SECRET_LENGTH) out.push(v);
      } else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) visit(x);
    };
    visit(JSON.parse(t));
    return out;
  } catch {
    return [];
  }
}

export const NO_REDACTION = new Redactor({});
