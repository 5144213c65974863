import { test } from 'node:test';
import { expectClean, expectOnly, lines } from '../../../test/helpers/diagnostics.ts';

const http = (...spec: string[]) => lines('name: w', 'tasks:', '  a:', '    http:', ...spec.map((s) => `      ${s}`));

test('a literal URL must be absolute http(s); a templated one is left to run time', () => {
  expectOnly(http('url: example.com/x'), 'RV204', 5, 'url');
  expectOnly(http('url: ftp://example.com/x'), 'RV204', 5, 'url');
  expectClean(http('url: https://example.com/x'));
  expectClean(http('url: ${{ vars.api }}/x'));
});

test('a poll URL may be a path (resolved against the request URL), else absolute http(s)', () => {
  const poll = (url: string) =>
    http('url: https://h.test/', `poll: { until: "\${{ response.status == 200 }}", url: "${url}" }`);
  expectClean(poll('/ops/1'));
  expectOnly(poll('ftp://h/1'), 'RV204', 6, 'url');
});

test('header names must be tokens and values may not hold line breaks', () => {
  expectOnly(http('url: https://h.test/', 'headers: { "X Bad": "1" }'), 'RV204', 6, '"X Bad"');
  expectOnly(http('url: https://h.test/', 'headers: { X-A: "a\\r\\nInjected: 1" }'), 'RV204', 6, 'X-A');
  expectClean(http('url: https://h.test/', 'headers: { X-Request-Id: "${{ run.id }}", Accept: application/json }'));
});

test('shell env names must be valid environment variable names', () => {
  const t = lines(
    'name: w',
    'tasks:',
    '  a:',
    '    shell:',
    '      command: [env]',
    '      env: { 1BAD: x, GOOD_1: y }',
  );
  expectOnly(t, 'RV204', 6, '1BAD');
});
