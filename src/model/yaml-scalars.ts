/** YAML 1.2 core schema: resolving plain scalars and the tags Rivet accepts. */

const INT_RE = /^[-+]?[0-9]+$/;
const OCT_RE = /^0o[0-7]+$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;
const FLOAT_RE = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INF_RE = /^[-+]?\.(inf|Inf|INF)$/;
const NAN_RE = /^\.(nan|NaN|NAN)$/;

/** YAML 1.2 core schema resolution of a plain scalar (so `no`, `on` and `yes` stay strings). */
export function resolvePlainScalar(text: string): unknown {
  switch (text) {
    case '':
    case '~':
    case 'null':
    case 'Null':
    case 'NULL':
      return null;
    case 'true':
    case 'True':
    case 'TRUE':
      return true;
    case 'false':
    case 'False':
    case 'FALSE':
      return false;
  }
  const c = text.charCodeAt(0);
  // Only text starting with a digit, sign, dot or 0x/0o can be a number: skip regexes otherwise.
  if (!((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) return text;
  if (INT_RE.test(text)) return Number.parseInt(text, 10);
  if (OCT_RE.test(text)) return Number.parseInt(text.slice(2), 8);
  if (HEX_RE.test(text)) return Number.parseInt(text.slice(2), 16);
  if (FLOAT_RE.test(text)) return Number.parseFloat(text);
  if (INF_RE.test(text)) return text.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (NAN_RE.test(text)) return Number.NaN;
  return text;
}

export const CORE_TAGS: Record<string, string> = {
  '!!str': 'str',
  '!!int': 'int',
  '!!float': 'float',
  '!!bool': 'bool',
  '!!null': 'null',
  '!!map': 'map',
  '!!seq': 'seq',
  '!': 'str',
};

export function tagName(raw: string): string | undefined {
  const verbatim = /^!<tag:yaml\.org,2002:(\w+)>$/.exec(raw);
  if (verbatim) return CORE_TAGS[`!!${verbatim[1]}`];
  return CORE_TAGS[raw];
}
