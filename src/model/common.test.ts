import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IDENTIFIER_RE, parseDuration } from './common.ts';

describe('parseDuration', () => {
  test('units and combinations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('2d'), 172_800_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('1m30s500ms'), 90_500);
  });

  test('text that is not a duration', () => {
    for (const s of ['', '5', 'ms', '5 m', '5min', '-1s', '1h 30m', 'PT5M', '1.s', '.5s']) {
      assert.equal(parseDuration(s), undefined, s);
    }
  });
});

describe('IDENTIFIER_RE', () => {
  test('task and input names', () => {
    for (const s of ['a', '_x', 'find_team', 'a1']) assert.ok(IDENTIFIER_RE.test(s), s);
    for (const s of ['', '1a', 'A', 'find-team', 'a.b', 'é']) assert.ok(!IDENTIFIER_RE.test(s), s);
  });
});
