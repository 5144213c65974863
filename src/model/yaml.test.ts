import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DocPath } from './diagnostics.ts';
import {
  decodeUtf8,
  DEFAULT_YAML_LIMITS,
  invalidUtf8Offset,
  parseYaml,
  resolvePlainScalar,
  type YamlResult,
} from './yaml.ts';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function ok(text: string): YamlResult {
  const r = parseYaml(text);
  assert.deepEqual(
    r.diagnostics.map((d) => `${d.code} ${d.message}`),
    [],
  );
  assert.equal(r.fatal, false);
  return r;
}

/** `line:col` of a path's value (or key) in a parsed document. */
function at(r: YamlResult, path: DocPath, which: 'key' | 'value' = 'value'): string {
  const { line, col } = r.sourceMap.lines.position(r.sourceMap.offset(path, which));
  return `${line}:${col}`;
}

/** `line:col` of the first `${{` of the string at `path`. */
function exprAt(r: YamlResult, path: DocPath): string {
  let v: unknown = r.value;
  for (const seg of path) v = (v as Record<string | number, unknown>)[seg];
  const s = v as string;
  const { line, col } = r.sourceMap.lines.position(r.sourceMap.offsetInString(path, s, s.indexOf('${{')));
  return `${line}:${col}`;
}

/** Codes with `line:col` of a rejected document. */
function codes(text: string): string[] {
  return parseYaml(text).diagnostics.map((d) => `${d.code} ${d.line}:${d.col}`);
}

describe('parseYaml: values and positions', () => {
  const text = [
    'name: demo', //                          line 1
    'tasks:', //                              line 2
    '  fetch:', //                            line 3
    '    http: { url: "https://x/${{ inputs.a }}", method: GET }', // line 4
    '    needs: [a, b]', //                   line 5
    '  "quoted key": 7', //                   line 6
    '',
  ].join('\n');

  test('values are null-prototype plain data', () => {
    const r = ok(text);
    assert.deepEqual(plain(r.value), {
      name: 'demo',
      tasks: {
        fetch: { http: { url: 'https://x/${{ inputs.a }}', method: 'GET' }, needs: ['a', 'b'] },
        'quoted key': 7,
      },
    });
    assert.equal(Object.getPrototypeOf(r.value), null);
    assert.equal(Object.getPrototypeOf((r.value as Record<string, unknown>).tasks), null);
  });

  test('keys and values have line and column', () => {
    const r = ok(text);
    assert.equal(at(r, ['name'], 'key'), '1:1');
    assert.equal(at(r, ['name']), '1:7');
    assert.equal(at(r, ['tasks', 'fetch'], 'key'), '3:3');
    assert.equal(at(r, ['tasks', 'fetch', 'http', 'url'], 'key'), '4:13');
    assert.equal(at(r, ['tasks', 'fetch', 'http', 'url']), '4:18', 'a quoted value starts at its quote');
    assert.equal(at(r, ['tasks', 'fetch', 'http', 'method']), '4:55');
    assert.equal(at(r, ['tasks', 'fetch', 'needs', 1]), '5:16');
    assert.equal(at(r, ['tasks', 'quoted key'], 'key'), '6:3');
    assert.equal(at(r, ['tasks', 'quoted key']), '6:17');
  });

  test('a missing path resolves to the deepest existing key', () => {
    const r = ok(text);
    assert.equal(at(r, ['tasks', 'fetch', 'timeout']), '3:3');
    assert.equal(at(r, ['nothing', 'here']), '1:1');
  });

  test('offsetInString: plain, quoted and block scalars', () => {
    const r = ok(
      [
        'plain: go ${{ inputs.a }}', //            1
        "single: 'it''s ${{ inputs.b }}'", //     2
        'double: "a\\tb ${{ inputs.c }}"', //     3
        'literal: |', //                          4
        '  line one', //                          5
        '  then ${{ inputs.d }}', //              6
        'folded: >', //                           7
        '  one', //                               8
        '  two ${{ inputs.e }}', //               9
        'flow: [x, "${{ inputs.f }}"]', //       10
        '',
      ].join('\n'),
    );
    assert.equal(exprAt(r, ['plain']), '1:11');
    assert.equal(exprAt(r, ['single']), '2:16');
    assert.equal(exprAt(r, ['double']), '3:15');
    assert.equal(exprAt(r, ['literal']), '6:8');
    assert.equal(exprAt(r, ['folded']), '9:7');
    assert.equal(exprAt(r, ['flow', 1]), '10:12');
    const span = r.sourceMap.scalar(['literal']);
    assert.equal(span?.block, true);
    assert.equal(r.sourceMap.scalar(['single'])?.quoted, true);
    assert.equal(r.sourceMap.scalar(['plain'])?.quoted, false);
  });

  test('a BOM is stripped and positions count from after it', () => {
    const r = ok('\ufeffa: 1\nb: x\n');
    assert.deepEqual(plain(r.value), { a: 1, b: 'x' });
    assert.equal(at(r, ['b']), '2:4');
  });
});

describe('resolvePlainScalar: YAML 1.2 core schema', () => {
  test('YAML 1.1 booleans stay strings', () => {
    for (const s of ['no', 'No', 'NO', 'on', 'On', 'off', 'yes', 'Yes', 'y', 'n', 'Off']) {
      assert.equal(resolvePlainScalar(s), s, s);
    }
  });

  test('true, false and null forms', () => {
    for (const s of ['true', 'True', 'TRUE']) assert.equal(resolvePlainScalar(s), true);
    for (const s of ['false', 'False', 'FALSE']) assert.equal(resolvePlainScalar(s), false);
    for (const s of ['~', 'null', 'Null', 'NULL', '']) assert.equal(resolvePlainScalar(s), null);
    assert.equal(resolvePlainScalar('nULL'), 'nULL');
  });

  test('numbers: decimal, 0o octal, 0x hex, floats', () => {
    assert.equal(resolvePlainScalar('0755'), 755);
    assert.equal(resolvePlainScalar('0o17'), 15);
    assert.equal(resolvePlainScalar('0x1f'), 31);
    assert.equal(resolvePlainScalar('0x1F'), 31);
    assert.equal(resolvePlainScalar('-12'), -12);
    assert.equal(resolvePlainScalar('+12'), 12);
    assert.equal(resolvePlainScalar('1.5'), 1.5);
    assert.equal(resolvePlainScalar('.5'), 0.5);
    assert.equal(resolvePlainScalar('1e3'), 1000);
    assert.equal(resolvePlainScalar('-.inf'), Number.NEGATIVE_INFINITY);
    assert.ok(Number.isNaN(resolvePlainScalar('.nan')));
  });

  test('number-like text that is not a YAML 1.2 number stays a string', () => {
    for (const s of ['0o18', '0x', '-0x1', '1_000', '1.2.3', '0b101', '12abc', '1:30', '.', '+']) {
      assert.equal(resolvePlainScalar(s), s, s);
    }
  });

  test('in a document: quoted numbers stay strings', () => {
    const r = ok("a: 0755\nb: '0755'\nc: no\nd: ~\ne: 0x1f\nf: 0o17\ng: null\n");
    assert.deepEqual(plain(r.value), { a: 755, b: '0755', c: 'no', d: null, e: 31, f: 15, g: null });
  });
});

describe('parseYaml: tags', () => {
  test('core tags are accepted', () => {
    const r = ok('a: !!str 12\nb: !!int "7"\nc: !!bool "true"\nd: !!map {x: 1}\ne: !!seq [1]\n');
    assert.deepEqual(plain(r.value), { a: '12', b: 7, c: true, d: { x: 1 }, e: [1] });
  });

  test('language-specific and custom tags are RV106 at the tag', () => {
    assert.deepEqual(codes('a: !!binary aGk=\n'), ['RV106 1:4']);
    assert.deepEqual(codes('x: 1\na: !custom value\n'), ['RV106 2:4']);
    assert.deepEqual(codes('a: !!js/function "function () {}"\n'), ['RV106 1:4']);
    assert.deepEqual(codes('a: !!python/object:os.system [ls]\n'), ['RV106 1:4']);
    assert.equal(parseYaml('a: !!binary aGk=\n').fatal, true);
  });

  test('a core tag on the wrong kind of node is RV106', () => {
    assert.deepEqual(codes('a: !!int nope\n'), ['RV106 1:10']);
    assert.deepEqual(
      codes('a: !!map [1]\n').map((c) => c.split(' ')[0]),
      ['RV106'],
    );
  });
});

describe('parseYaml: aliases', () => {
  test('an alias shares the anchored value', () => {
    const r = ok('base: &b {x: 1}\nuse: *b\nlist: [*b, *b]\n');
    const v = r.value as Record<string, unknown>;
    assert.equal(v.use, v.base);
    assert.deepEqual(plain(v.list), [{ x: 1 }, { x: 1 }]);
  });

  test('a billion-laughs document is refused by the alias budget', () => {
    const lines = ['a: &a [1,1,1,1,1,1,1,1,1,1]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].entries()) {
      const prev = 'abcdefghi'[i]!;
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const text = lines.join('\n') + '\n';
    assert.ok(text.length < 1024);
    const r = parseYaml(text);
    assert.equal(r.fatal, true);
    assert.deepEqual(
      r.diagnostics.map((d) => d.code),
      ['RV104'],
    );
    assert.equal(r.diagnostics[0]!.line, 4, 'stops at the first alias past the budget');
  });

  test('the alias budget is configurable', () => {
    const text = 'a: &a [1, 2, 3]\nb: [*a, *a]\n';
    assert.equal(parseYaml(text).fatal, false);
    const r = parseYaml(text, { ...DEFAULT_YAML_LIMITS, maxAliasNodes: 5 });
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.code} ${d.line}:${d.col}`),
      ['RV104 2:9'],
    );
  });

  test('an unknown alias is a syntax error', () => {
    assert.deepEqual(
      codes('a: *nope\n').map((c) => c.split(' ')[0]),
      ['RV101'],
    );
  });
});

describe('parseYaml: keys', () => {
  test('duplicate keys are RV102 at the second key, with the path, and keep the first value', () => {
    const r = parseYaml('tasks:\n  a:\n    x: 1\n    x: 2\n');
    assert.equal(r.fatal, false);
    assert.equal(r.diagnostics.length, 1);
    const d = r.diagnostics[0]!;
    assert.equal(d.code, 'RV102');
    assert.deepEqual([d.line, d.col], [4, 5]);
    assert.deepEqual(d.path, ['tasks', 'a']);
    assert.match(d.message, /"x".*line 3/);
    assert.deepEqual(plain(r.value), { tasks: { a: { x: 1 } } });
  });

  test('every duplicate is reported, not only the first', () => {
    assert.deepEqual(codes('a: 1\nb: 2\na: 3\nb: 4\n'), ['RV102 3:1', 'RV102 4:1']);
  });

  test('prototype keys are RV110 and dropped, without touching any prototype', () => {
    const r = parseYaml('__proto__: {polluted: 1}\nx:\n  constructor: 2\n  prototype: 3\n  ok: 4\n');
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.code} ${d.line}:${d.col}`),
      ['RV110 1:1', 'RV110 3:3', 'RV110 4:3'],
    );
    assert.deepEqual(plain(r.value), { x: { ok: 4 } });
    assert.equal(Object.getPrototypeOf(r.value), null);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('a merge key carrying __proto__ pollutes nothing', () => {
    const r = parseYaml('base: &b {__proto__: {polluted: 1}}\nt:\n  <<: *b\n');
    assert.ok(r.diagnostics.some((d) => d.code === 'RV110'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getOwnPropertyNames(Object.prototype).includes('polluted'), false);
  });
});

describe('parseYaml: documents and encoding', () => {
  test('multiple documents are RV109 at the second document', () => {
    assert.deepEqual(codes('a: 1\n---\nb: 2\n'), ['RV109 2:1']);
    assert.deepEqual(codes('---\na: 1\n---\nb: 2\n'), ['RV109 3:1']);
    assert.equal(parseYaml('---\na: 1\n').fatal, false);
  });

  test('NUL and lone surrogates are RV108 at their position', () => {
    assert.deepEqual(codes('a: 1\nb: x\u0000y\n'), ['RV108 2:5']);
    assert.deepEqual(
      codes('a: "\\ud800"\n').map((c) => c.split(' ')[0]),
      ['RV108'],
    );
    assert.deepEqual(codes('ab: \ud800\n'), ['RV108 1:5']);
  });

  test('too deep nesting is RV105, not a crash', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    assert.deepEqual(
      parseYaml(`a: ${deep}\n`).diagnostics.map((d) => d.code),
      ['RV105'],
    );
  });

  test('invalidUtf8Offset finds the first bad sequence', () => {
    const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);
    assert.equal(invalidUtf8Offset(new TextEncoder().encode('héllo € 𝄞 ok')), -1);
    assert.equal(invalidUtf8Offset(b(0x61, 0xc0, 0x80)), 1, 'overlong 2-byte NUL');
    assert.equal(invalidUtf8Offset(b(0x61, 0xc1, 0xbf)), 1, 'overlong 2-byte');
    assert.equal(invalidUtf8Offset(b(0x61, 0x62, 0xe0, 0x80, 0x80)), 2, 'overlong 3-byte');
    assert.equal(invalidUtf8Offset(b(0xf0, 0x80, 0x80, 0x80)), 0, 'overlong 4-byte');
    assert.equal(invalidUtf8Offset(b(0x61, 0xed, 0xa0, 0x80)), 1, 'UTF-16 surrogate D800');
    assert.equal(invalidUtf8Offset(b(0xed, 0xbf, 0xbf)), 0, 'UTF-16 surrogate DFFF');
    assert.equal(invalidUtf8Offset(b(0x61, 0xe2, 0x82)), 1, 'truncated 3-byte at the end');
    assert.equal(invalidUtf8Offset(b(0xe2, 0x82, 0x61)), 0, 'truncated 3-byte before ASCII');
    assert.equal(invalidUtf8Offset(b(0xf0, 0x9d, 0x84)), 0, 'truncated 4-byte');
    assert.equal(invalidUtf8Offset(b(0xf4, 0x90, 0x80, 0x80)), 0, 'above U+10FFFF');
    assert.equal(invalidUtf8Offset(b(0x61, 0x80)), 1, 'lone continuation byte');
    assert.equal(invalidUtf8Offset(b(0x61, 0xff)), 1, '0xFF');
    assert.equal(invalidUtf8Offset(b(0xed, 0x9f, 0xbf)), -1, 'U+D7FF is valid');
    assert.equal(invalidUtf8Offset(b(0xf4, 0x8f, 0xbf, 0xbf)), -1, 'U+10FFFF is valid');
  });

  test('decodeUtf8 strips the BOM and reports bad bytes with line and column', () => {
    assert.deepEqual(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0x3a, 0x20, 0x31])), { text: 'a: 1' });
    const bad = decodeUtf8(new Uint8Array([0x61, 0x0a, 0x62, 0x63, 0xc0, 0x80]));
    assert.ok('diagnostic' in bad);
    const d = bad.diagnostic;
    assert.equal(d.code, 'RV108');
    assert.deepEqual([d.line, d.col], [2, 3]);
    assert.match(d.message, /0xc0 at byte 4/);
    const multibyte = decodeUtf8(new Uint8Array([...new TextEncoder().encode('é\né'), 0xed, 0xa0, 0x80]));
    assert.ok('diagnostic' in multibyte);
    assert.deepEqual([multibyte.diagnostic.line, multibyte.diagnostic.col], [2, 2]);
  });

  test('decodeUtf8 refuses files over the byte limit', () => {
    const r = decodeUtf8(new Uint8Array(100), { ...DEFAULT_YAML_LIMITS, maxBytes: 10 });
    assert.ok('diagnostic' in r);
    assert.equal(r.diagnostic.code, 'RV107');
  });
});
