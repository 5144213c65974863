import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DESIGN_EXAMPLE, found, where, expectOnly, expectClean } from '../../test/helpers/diagnostics.ts';
import { validateWorkflowText } from './validate.ts';

describe('validateWorkflowText: a valid workflow', () => {
  test('the DESIGN.md example validates with no diagnostics', () => {
    const r = validateWorkflowText(DESIGN_EXAMPLE);
    assert.deepEqual(r.diagnostics, []);
    assert.ok(r.workflow);
    assert.equal(r.workflow.name, 'provision_bucket');
    assert.deepEqual(
      r.workflow.tasks.map((t) => `${t.id}:${t.kind}`),
      ['find_team:http', 'approve:approval', 'create:http', 'page_oncall:shell'],
    );
    assert.equal(r.workflow.task('page_oncall')?.when, 'failure');
    assert.deepEqual(r.workflow.task('create')?.needs, ['find_team', 'approve']);
    assert.equal(r.workflow.dag.isUpstream('find_team', 'page_oncall'), true);
  });

  test('a noop task with no body is accepted', () => {
    const r = validateWorkflowText('name: w\ntasks:\n  a:\n    noop:\n');
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.workflow?.task('a')?.spec, null);
  });
});

describe('validateWorkflowText: schema codes', () => {
  test('RV201 unknown field, at the key', () => {
    const t = 'name: w\ntasks:\n  a:\n    noop:\n    retries: 3\n';
    expectOnly(t, 'RV201', 5, 'retries');
    assert.match(validateWorkflowText(t).diagnostics[0]!.message, /retries/);
  });

  test('RV201 with a did-you-mean hint', () => {
    const r = validateWorkflowText('name: w\ntasks:\n  a:\n    noop:\n    timout: 5s\n');
    assert.equal(r.diagnostics[0]?.code, 'RV201');
    assert.match(r.diagnostics[0]?.hint ?? '', /timeout/);
  });

  test('RV202 wrong type, at the value', () => {
    expectOnly('name: w\ntasks:\n  a:\n    noop:\n    for_each: [1]\n    concurrency: many\n', 'RV202', 6, 'many');
  });

  test('RV202 names the YAML 1.2 reading of a YAML 1.1 boolean', () => {
    const r = validateWorkflowText('name: w\ntasks:\n  a:\n    http: { url: "https://x", follow_redirects: no }\n');
    assert.equal(r.diagnostics[0]?.code, 'RV202');
    assert.match(r.diagnostics[0]?.hint ?? '', /YAML 1\.2/);
  });

  test('RV203 missing required field, at the key of the object that lacks it', () => {
    expectOnly('name: w\ntasks:\n  a:\n    http: { method: GET }\n', 'RV203', 4, 'http');
  });

  test('RV203 a workflow without tasks', () => {
    expectOnly('name: w\ndescription: nothing to do\n', 'RV203', 1, 'name');
  });

  test('RV204 invalid value, at the value', () => {
    expectOnly('name: w\ntasks:\n  a:\n    noop:\n    when: sometimes\n', 'RV204', 5, 'sometimes');
  });

  test('RV204 retry.max_delay shorter than retry.delay', () => {
    expectOnly(
      'name: w\ntasks:\n  a:\n    noop:\n    retry: { attempts: 2, delay: 10s, max_delay: 1s }\n',
      'RV204',
      5,
      '1s',
    );
  });

  test('RV205 task id that is not an identifier, at the key', () => {
    expectOnly('name: w\ntasks:\n  Bad-Id:\n    noop:\n', 'RV205', 3, 'Bad-Id');
  });

  test('RV205 input name that is not an identifier', () => {
    expectOnly('name: w\ninputs:\n  Team: {}\ntasks:\n  a:\n    noop:\n', 'RV205', 3, 'Team');
  });

  test('RV206 invalid duration, at the value', () => {
    expectOnly('name: w\ntasks:\n  a:\n    noop:\n    timeout: 5 minutes\n', 'RV206', 5, '5 minutes');
  });

  test('RV207 unknown kind, at the key, with a suggestion', () => {
    const t = 'name: w\ntasks:\n  a:\n    htp: { url: x }\n';
    expectOnly(t, 'RV207', 4, 'htp');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /http/);
  });

  test('RV207 two kinds, at the second', () => {
    expectOnly('name: w\ntasks:\n  a:\n    noop:\n    sleep: { duration: 1s }\n', 'RV207', 5, 'sleep');
  });

  test('RV207 no kind, at the task id', () => {
    expectOnly('name: w\ntasks:\n  a:\n    needs: []\n', 'RV207', 3, 'a');
  });

  test('RV208 unknown input type, at the value', () => {
    expectOnly('name: w\ninputs:\n  x: { type: str }\ntasks:\n  a:\n    noop:\n', 'RV208', 3, 'str');
  });

  test('RV209 invalid cron, at the value', () => {
    expectOnly('name: w\non:\n  schedule: { cron: "61 * * * *" }\ntasks:\n  a:\n    noop:\n', 'RV209', 3, '"61');
  });

  test('RV209 unknown time zone, with a suggestion', () => {
    const t = 'name: w\non:\n  schedule: { cron: "0 * * * *", timezone: Europe/Pariss }\ntasks:\n  a:\n    noop:\n';
    expectOnly(t, 'RV209', 3, 'Europe');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /Europe\/Paris"/);
  });

  test('RV210 default of the wrong type, at the default', () => {
    expectOnly('name: w\ninputs:\n  n: { type: integer, default: ten }\ntasks:\n  a:\n    noop:\n', 'RV210', 3, 'ten');
  });

  test('RV210 default not matching its pattern', () => {
    expectOnly(
      'name: w\ninputs:\n  b: { pattern: "^[a-z]+$", default: "ABC" }\ntasks:\n  a:\n    noop:\n',
      'RV210',
      3,
      '"ABC"',
    );
  });

  test('RV210 a YAML 1.1 boolean default gets a hint', () => {
    const r = validateWorkflowText('name: w\ninputs:\n  p: { type: boolean, default: no }\ntasks:\n  a:\n    noop:\n');
    assert.equal(r.diagnostics[0]?.code, 'RV210');
    assert.match(r.diagnostics[0]?.hint ?? '', /true or false/);
  });
});

describe('validateWorkflowText: graph codes', () => {
  test('RV301 unknown need, at the need', () => {
    const t = 'name: w\ntasks:\n  alpha:\n    noop:\n  b:\n    noop:\n    needs: [alpah]\n';
    expectOnly(t, 'RV301', 7, 'alpah');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /alpha/);
  });

  test('RV302 self-need', () => {
    expectOnly('name: w\ntasks:\n  a:\n    noop:\n    needs: a\n', 'RV302', 5, 'a');
  });

  test('RV302 a 2-cycle names the path', () => {
    const t = 'name: w\ntasks:\n  a:\n    noop:\n    needs: [b]\n  b:\n    noop:\n    needs: [a]\n';
    expectOnly(t, 'RV302', 5, 'b');
    assert.match(validateWorkflowText(t).diagnostics[0]!.message, /a → b → a/);
  });

  test('RV302 a 1,000-task cycle is one diagnostic naming the cycle', () => {
    let t = 'name: w\ntasks:\n';
    for (let i = 0; i < 1000; i++) t += `  t${i}:\n    noop:\n    needs: [t${(i + 1) % 1000}]\n`;
    const r = validateWorkflowText(t);
    assert.deepEqual(
      r.diagnostics.map((d) => d.code),
      ['RV302'],
    );
    assert.match(r.diagnostics[0]!.message, /t0 → t1 → t2 .*more.* → t0/);
  });

  test('RV303 duplicate task id, at the second', () => {
    expectOnly('name: w\ntasks:\n  a:\n    noop:\n  a:\n    sleep: { duration: 1s }\n', 'RV303', 5, 'a');
  });
});

describe('validateWorkflowText: all errors at once', () => {
  test('four different errors come back together, sorted by position', () => {
    const t = [
      'name: w', //                                       1
      'inputs:', //                                       2
      '  team: { type: string }', //                      3
      'tasks:', //                                        4
      '  first:', //                                      5
      '    sleep: { until: "${{ inputs.teem }}" }', //    6  RV403
      '  Second:', //                                     7  RV205
      '    noop:', //                                     8
      '  third:', //                                      9
      '    noop:', //                                     10
      '    timeout: soon', //                             11 RV206
      '    needs: [fourth]', //                           12 RV301
      '',
    ].join('\n');
    assert.deepEqual(found(t), [
      `RV403 ${where(t, 6, 'teem')}`,
      `RV205 ${where(t, 7, 'Second')}`,
      `RV206 ${where(t, 11, 'soon')}`,
      `RV301 ${where(t, 12, 'fourth')}`,
    ]);
  });

  test('diagnostics from YAML and later phases are merged in order', () => {
    const t = 'name: w\ntasks:\n  a:\n    noop:\n    when: maybe\n  b:\n    noop:\n    needs: [zz]\n    needs: [a]\n';
    assert.deepEqual(found(t), [
      `RV204 ${where(t, 5, 'maybe')}`,
      `RV301 ${where(t, 8, 'zz')}`,
      `RV102 ${where(t, 9, 'needs')}`,
    ]);
  });

  test('a fatal YAML error stops before the schema', () => {
    const t = 'name: w\ntasks: [unclosed\n';
    const r = validateWorkflowText(t);
    assert.deepEqual(
      r.diagnostics.map((d) => d.code),
      ['RV101'],
    );
  });

  test('an empty document and a non-mapping document', () => {
    assert.deepEqual(
      validateWorkflowText('').diagnostics.map((d) => d.code),
      ['RV100'],
    );
    assert.deepEqual(
      validateWorkflowText('- a\n- b\n').diagnostics.map((d) => d.code),
      ['RV103'],
    );
  });
});

describe('fields that only mean something together', () => {
  test('when: failure or always without needs', () => {
    expectOnly('name: w\ntasks:\n  a:\n    when: failure\n    noop: {}\n', 'RV204', 4, 'when');
    expectOnly('name: w\ntasks:\n  a:\n    when: always\n    noop: {}\n', 'RV204', 4, 'when');
    expectClean('name: w\ntasks:\n  a: { noop: {} }\n  b:\n    needs: a\n    when: always\n    noop: {}\n');
  });

  test('concurrency without for_each', () => {
    expectOnly('name: w\ntasks:\n  a:\n    concurrency: 2\n    noop: {}\n', 'RV204', 4, 'concurrency');
  });

  test('an approval default without a timeout', () => {
    expectOnly('name: w\ntasks:\n  a:\n    approval: { message: ok?, default: approve }\n', 'RV204', 4, 'default');
    expectClean('name: w\ntasks:\n  a:\n    approval: { message: ok?, default: approve, timeout: 1h }\n');
  });
});
