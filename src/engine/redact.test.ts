/**
 * The Redactor (RELIABILITY.md 4.8): every form a secret takes on the way out is masked (as is,
 * JSON-escaped, URL-encoded with %20 or +, Base64 with and without padding, URL-safe Base64, each
 * line of a multi-line PEM key, each string field of a JSON secret); short secrets are not masked
 * and are reported; values (keys included) are walked.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MASK, MIN_SECRET_LENGTH, NO_REDACTION, Redactor } from './redact.ts';

const TOKEN = 'tok-9f8e7d6c5b4a';
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('Redactor: forms of a secret', () => {
  const r = new Redactor({ TOKEN });

  test('the value as is, anywhere in a text, every time', () => {
    assert.equal(r.text(`a ${TOKEN} b ${TOKEN}`), `a ${MASK} b ${MASK}`);
    assert.equal(r.text(`Authorization: Bearer ${TOKEN}`), `Authorization: Bearer ${MASK}`);
    assert.equal(r.text(`https://user:${TOKEN}@host/path`), `https://user:${MASK}@host/path`);
  });

  test('Base64, with and without padding, and URL-safe Base64', () => {
    const special = 'a?b>c~d?e>';
    const s = new Redactor({ special });
    const std = b64(special);
    assert.ok(/[+/]/.test(std), 'the sample needs + or / in its Base64');
    assert.equal(s.text(`x ${std} y`), `x ${MASK} y`);
    assert.equal(s.text(`x ${std.replace(/=+$/, '')} y`), `x ${MASK} y`);
    const urlSafe = std.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    assert.equal(s.text(`x ${urlSafe} y`), `x ${MASK} y`);
    assert.equal(r.text(b64(TOKEN)), MASK);
  });

  test('URL-encoded, with %20 and with + for spaces', () => {
    const secret = 'p@ss w0rd/&=?';
    const s = new Redactor({ secret });
    assert.equal(s.text(`q=${encodeURIComponent(secret)}`), `q=${MASK}`);
    assert.equal(s.text(`q=${encodeURIComponent(secret).replace(/%20/g, '+')}`), `q=${MASK}`);
  });

  test('JSON-escaped (quotes, backslashes, newlines, control characters)', () => {
    const secret = 'he said "hi"\\ \t end';
    const s = new Redactor({ secret });
    const json = JSON.stringify({ v: secret });
    assert.equal(s.text(json), `{"v":"${MASK}"}`);
    assert.equal(s.text(secret), MASK);
  });

  test('a secret with shell and JSON special characters', () => {
    const secret = `$(rm -rf /)'";|&\`x\``;
    const s = new Redactor({ secret });
    assert.equal(s.text(`echo ${secret}`), `echo ${MASK}`);
    assert.equal(s.text(JSON.stringify(secret)), `"${MASK}"`);
  });

  test('each line of a multi-line PEM key, and the whole key, as is and JSON-escaped', () => {
    const pem = [
      '-----BEGIN PRIVATE KEY-----',
      'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7',
      'VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu',
      '-----END PRIVATE KEY-----',
    ].join('\n');
    const s = new Redactor({ pem });
    assert.equal(s.text(pem), MASK);
    assert.equal(s.text(JSON.stringify(pem)), `"${MASK}"`);
    // A log shows the key one line at a time.
    for (const line of pem.split('\n')) assert.equal(s.text(`stdout: ${line}`), `stdout: ${MASK}`, line);
    assert.equal(s.text(pem.replace(/\n/g, '\r\n')).includes('MIIEvQIBADAN'), false);
  });

  test('a JSON secret hides the whole document and each of its string fields', () => {
    const creds = JSON.stringify({
      user: 'svc-deployer',
      password: 'hunter2-very-secret',
      nested: { key: 'k-123456' },
    });
    const s = new Redactor({ creds });
    assert.equal(s.text(creds), MASK);
    assert.equal(s.text('password=hunter2-very-secret'), `password=${MASK}`);
    assert.equal(s.text(`user ${'svc-deployer'}`), `user ${MASK}`);
    assert.equal(s.text('key k-123456'), `key ${MASK}`);
    assert.equal(s.text(b64('hunter2-very-secret')), MASK);
  });

  test('a secret that contains another is masked whole (longest first)', () => {
    const s = new Redactor({ short: 'abcd', long: 'abcd-efgh-ijkl' });
    assert.equal(s.text('abcd-efgh-ijkl and abcd'), `${MASK} and ${MASK}`);
  });

  test('regular-expression characters in a secret are taken literally', () => {
    const s = new Redactor({ re: 'a.b*c+(d)' });
    assert.equal(s.text('a.b*c+(d)'), MASK);
    assert.equal(s.text('axbbbcc(d)'), 'axbbbcc(d)');
  });
});

describe('Redactor: short and empty secrets', () => {
  test(`secrets shorter than ${MIN_SECRET_LENGTH} characters are not masked, and are reported`, () => {
    const r = new Redactor({ PIN: 'abc', EMPTY: '', TOKEN });
    assert.deepEqual(r.tooShort, ['PIN']);
    assert.equal(r.text('abc abcdef'), 'abc abcdef');
    assert.equal(r.text(TOKEN), MASK);
  });

  test(`a ${MIN_SECRET_LENGTH}-character secret is masked`, () => {
    const r = new Redactor({ PIN: 'wxyz' });
    assert.deepEqual(r.tooShort, []);
    assert.equal(r.text('pin wxyz'), `pin ${MASK}`);
  });

  test('short forms of a long secret are not added (no over-masking of short words)', () => {
    // Base64 of a 4-character value is 8 characters; without padding 6: all kept.
    const r = new Redactor({ k: 'wxyz' });
    assert.equal(r.text(b64('wxyz')), MASK);
    assert.equal(r.text('a b c'), 'a b c');
  });

  test('no secrets: inactive, texts and values pass through untouched', () => {
    for (const r of [new Redactor({}), new Redactor({ x: 'ab' }), NO_REDACTION]) {
      assert.equal(r.active, false);
      const v = { a: [1, 'two'] };
      assert.equal(r.value(v), v);
      assert.equal(r.text('anything'), 'anything');
    }
    assert.equal(new Redactor({ TOKEN }).active, true);
  });
});

describe('Redactor.value', () => {
  const r = new Redactor({ TOKEN });

  test('masks every string inside a value, keys included, and keeps other types', () => {
    const v = {
      plain: 'ok',
      token: TOKEN,
      list: [`x${TOKEN}x`, 3, true, null, { deep: b64(TOKEN) }],
      [TOKEN]: 'as a key',
    };
    assert.deepEqual(JSON.parse(JSON.stringify(r.value(v))), {
      plain: 'ok',
      token: MASK,
      list: [`x${MASK}x`, 3, true, null, { deep: MASK }],
      [MASK]: 'as a key',
    });
  });

  test('does not change the value it was given', () => {
    const v = { token: TOKEN };
    r.value(v);
    assert.equal(v.token, TOKEN);
  });

  test('a string alone', () => {
    assert.equal(r.value(TOKEN), MASK);
    assert.equal(r.value(42), 42);
  });
});
