import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { didYouMean, editDistance, nearest } from './suggest.ts';

describe('editDistance', () => {
  test('insertions, deletions and substitutions', () => {
    assert.equal(editDistance('', ''), 0);
    assert.equal(editDistance('abc', 'abc'), 0);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('bucket', 'buckett'), 1);
    assert.equal(editDistance('flaw', 'lawn'), 2);
  });

  test('an adjacent swap is one edit', () => {
    assert.equal(editDistance('biuld', 'build'), 1);
    assert.equal(editDistance('ab', 'ba'), 1);
  });

  test('stops early past max', () => {
    assert.equal(editDistance('a', 'abcdefgh', 2), 3);
    assert.equal(editDistance('abcdef', 'uvwxyz', 1), 2);
    assert.equal(editDistance('abc', 'abd', 1), 1);
  });
});

describe('nearest and didYouMean', () => {
  test('finds a close candidate, case-insensitively', () => {
    assert.equal(nearest('timout', ['timeout', 'retry', 'needs']), 'timeout');
    assert.equal(nearest('HTTP', ['http', 'shell']), 'http');
    assert.equal(nearest('Europe/Pariss', ['Europe/Paris', 'Europe/Prague']), 'Europe/Paris');
  });

  test('refuses candidates too far away', () => {
    assert.equal(nearest('abc', ['xyz']), undefined);
    assert.equal(nearest('when', ['retry', 'cache']), undefined);
    assert.equal(nearest('x', []), undefined);
  });

  test('prefers the nearest of several', () => {
    assert.equal(nearest('bucket', ['bucketss', 'buckets', 'bucked']), 'buckets');
  });

  test('didYouMean wraps the suggestion', () => {
    assert.equal(didYouMean('shel', ['shell', 'http']), 'did you mean "shell"?');
    assert.equal(didYouMean('zzzz', ['shell']), undefined);
  });
});
