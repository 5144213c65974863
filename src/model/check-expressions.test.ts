import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { found, where, expectOnly, expectClean, lines } from '../../test/helpers/diagnostics.ts';
import { validateWorkflowText } from './validate.ts';

describe('RV401 expression syntax', () => {
  test('a CEL syntax error points inside the expression', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep: { until: "${{ 1 + * 2 }}" }');
    expectOnly(t, 'RV401', 4, '*');
  });

  test('the column is exact in a plain scalar after text', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep:', '      until: at ${{ run.started_at ) }}');
    expectOnly(t, 'RV401', 5, ')');
  });

  test('the column is exact in a block scalar', () => {
    const t = lines(
      'name: w',
      'tasks:',
      '  a:',
      '    shell:',
      '      run: |',
      '        echo start',
      '        echo ${{ inputs. }}',
    );
    const r = validateWorkflowText(t);
    assert.equal(r.diagnostics[0]?.code, 'RV401');
    assert.equal(r.diagnostics[0]?.line, 7);
  });

  test('an unclosed template, at its "${{"', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep: { until: "x ${{ 1" }');
    expectOnly(t, 'RV401', 4, '${{');
  });

  test('an empty template', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep: { until: "${{ }}" }');
    expectOnly(t, 'RV401', 4, '${{');
  });

  test('"}}" in a CEL string and a map literal are fine', () => {
    expectClean(lines('name: w', 'tasks:', '  a:', "    sleep: { until: \"${{ '}}' + {'k': {'v': 'x'}}.k.v }}\" }"));
  });
});

describe('RV402 unknown reference', () => {
  test('item outside for_each', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep: { until: "${{ item }}" }');
    expectOnly(t, 'RV402', 4, 'item');
    assert.match(validateWorkflowText(t).diagnostics[0]!.message, /for_each/);
  });

  test('item and index inside for_each are fine', () => {
    expectClean(
      lines(
        'name: w',
        'tasks:',
        '  a:',
        '    for_each: ${{ [1, 2] }}',
        '    sleep: { until: "${{ string(item) + string(index) }}" }',
      ),
    );
  });

  test('item is not in scope in the for_each expression itself', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    for_each: ${{ item }}', '    noop:');
    expectOnly(t, 'RV402', 4, 'item');
  });

  test("response in a shell task's outputs", () => {
    const t = lines(
      'name: w',
      'tasks:',
      '  a:',
      '    shell: { run: "true" }',
      '    outputs:',
      '      x: ${{ response.body }}',
    );
    expectOnly(t, 'RV402', 6, 'response');
    assert.match(validateWorkflowText(t).diagnostics[0]!.message, /http/);
  });

  test("response and result in an http task's outputs and assert are fine", () => {
    expectClean(
      lines(
        'name: w',
        'tasks:',
        '  a:',
        '    http: { url: "https://x" }',
        '    assert: ["${{ response.status == 200 }}"]',
        '    outputs:',
        '      x: ${{ response.body.id }}',
        '      y: ${{ result }}',
      ),
    );
  });

  test('response in the http spec itself is not in scope', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    http: { url: "https://x/${{ response.body }}" }');
    expectOnly(t, 'RV402', 4, 'response');
  });

  test("CEL's type names are not unknown variables", () => {
    const r = validateWorkflowText(
      'name: t\ninputs:\n  x: { type: object, default: {} }\ntasks:\n  a:\n    if: ${{ type(inputs.x) == map && type(1) == int }}\n    noop:\n',
    );
    assert.deepEqual(r.diagnostics, []);
  });

  test('an unknown variable, with a suggestion', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep: { until: "${{ inputz.a }}" }');
    expectOnly(t, 'RV402', 4, 'inputz');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /inputs/);
  });

  test('an unknown field of run and of a task', () => {
    const t = lines(
      'name: w',
      'tasks:',
      '  a:',
      '    noop:',
      '  b:',
      '    needs: [a]',
      '    sleep: { until: "${{ run.nope + tasks.a.outputz }}" }',
    );
    assert.deepEqual(found(t), [`RV402 ${where(t, 7, 'nope')}`, `RV402 ${where(t, 7, 'outputz')}`]);
  });

  test('macro-bound variables are not unknown references', () => {
    expectClean(
      lines(
        'name: w',
        'inputs:',
        '  l: { type: list }',
        'tasks:',
        '  a:',
        '    if: ${{ inputs.l.exists(x, x > 1) && cel.bind(v, inputs.l, size(v) > 0) }}',
        '    noop:',
      ),
    );
  });

  test('tasks are not in scope in a trigger', () => {
    const t = lines(
      'name: w',
      'inputs:',
      '  x: {}',
      'on:',
      '  webhook: { kind: generic, inputs: { x: "${{ tasks.a.status }}" } }',
      'tasks:',
      '  a:',
      '    noop:',
    );
    expectOnly(t, 'RV402', 5, 'tasks.a');
  });
});

describe('RV403 unknown input', () => {
  test('at the input name, with a suggestion', () => {
    const t = lines(
      'name: w',
      'inputs:',
      '  bucket: {}',
      'tasks:',
      '  a:',
      '    sleep: { until: "${{ inputs.buckett }}" }',
    );
    expectOnly(t, 'RV403', 6, 'buckett');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /"bucket"/);
  });

  test('a string index counts as the input name', () => {
    const t = lines(
      'name: w',
      'inputs:',
      '  bucket: {}',
      'tasks:',
      '  a:',
      '    sleep: { until: \'${{ inputs["nope"] }}\' }',
    );
    expectOnly(t, 'RV403', 6, '"nope"');
  });
});

describe('RV404 unknown task', () => {
  test('at the task name', () => {
    const t = lines(
      'name: w',
      'tasks:',
      '  fetch:',
      '    noop:',
      '  b:',
      '    sleep: { until: "${{ tasks.fetc.status }}" }',
    );
    expectOnly(t, 'RV404', 6, 'fetc');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /fetch/);
  });

  test('in workflow outputs', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    noop:', 'outputs:', '  x: ${{ tasks.zz.status }}');
    expectOnly(t, 'RV404', 6, 'zz');
  });
});

describe('RV405 not upstream', () => {
  const chain = (ref: string, needs = '[b]'): string =>
    lines(
      'name: w',
      'tasks:',
      '  a:',
      '    http: { url: "https://x" }',
      '  b:',
      '    needs: [a]',
      '    noop:',
      '  c:',
      `    needs: ${needs}`,
      `    sleep: { until: "\${{ ${ref} }}" }`,
      '  d:',
      '    noop:',
    );

  test('a task upstream through transitive needs is accepted', () => {
    expectClean(chain('tasks.a.outputs.body'));
    expectClean(chain('tasks.b.status'));
  });

  test('a task that is not upstream is RV405 at the task name', () => {
    const t = chain('tasks.d.status');
    expectOnly(t, 'RV405', 10, 'd.status');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /needs of "c"/);
  });

  test('a downstream task is not upstream', () => {
    const t = lines(
      'name: w',
      'tasks:',
      '  a:',
      '    sleep: { until: "${{ tasks.b.status }}" }',
      '  b:',
      '    needs: [a]',
      '    noop:',
    );
    expectOnly(t, 'RV405', 4, 'b.status');
  });

  test('a task referring to itself', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep: { until: "${{ tasks.a.status }}" }');
    expectOnly(t, 'RV405', 4, 'a.status');
    assert.match(validateWorkflowText(t).diagnostics[0]!.message, /itself/);
  });

  test('workflow outputs may read any task', () => {
    expectClean(
      lines('name: w', 'tasks:', '  a:', '    noop:', '  b:', '    noop:', 'outputs:', '  x: ${{ tasks.a.status }}'),
    );
  });
});

describe('RV406 unknown output', () => {
  const wf = (outputs: string, ref: string): string =>
    lines(
      'name: w',
      'tasks:',
      '  a:',
      '    http: { url: "https://x" }',
      ...(outputs === '' ? [] : ['    outputs:', `      ${outputs}`]),
      '  b:',
      '    needs: [a]',
      `    sleep: { until: "\${{ ${ref} }}" }`,
    );

  test("an http task's built-in outputs", () => {
    expectClean(wf('', 'tasks.a.outputs.body.id + string(tasks.a.outputs.status)'));
    const t = wf('', 'tasks.a.outputs.bdy');
    expectOnly(t, 'RV406', 7, 'bdy');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /"body"/);
  });

  test('declared outputs', () => {
    expectClean(wf('team_id: ${{ response.body.id }}', 'tasks.a.outputs.team_id'));
    const t = wf('team_id: ${{ response.body.id }}', 'tasks.a.outputs.teamid');
    expectOnly(t, 'RV406', 9, 'teamid');
    assert.match(validateWorkflowText(t).diagnostics[0]!.hint ?? '', /team_id/);
  });

  test('shell tasks have dynamic outputs; for_each outputs are lists', () => {
    expectClean(
      lines(
        'name: w',
        'tasks:',
        '  a:',
        '    shell: { run: "true" }',
        '  b:',
        '    needs: [a]',
        '    sleep: { until: "${{ tasks.a.outputs.anything }}" }',
      ),
    );
    expectClean(
      lines(
        'name: w',
        'tasks:',
        '  a:',
        '    for_each: ${{ [1] }}',
        '    http: { url: "https://x" }',
        '  b:',
        '    needs: [a]',
        '    sleep: { until: "${{ tasks.a.outputs[0].body }}" }',
      ),
    );
  });

  test('a task with no outputs', () => {
    const t = lines(
      'name: w',
      'tasks:',
      '  a:',
      '    noop:',
      '  b:',
      '    needs: [a]',
      '    sleep: { until: "${{ tasks.a.outputs.x }}" }',
    );
    expectOnly(t, 'RV406', 7, 'x }}');
  });
});

describe('RV407 expression type errors', () => {
  test('an unknown function, at the call', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep: { until: "${{ 1 + nosuch(1) }}" }');
    expectOnly(t, 'RV407', 4, 'nosuch');
  });

  test('a wrong arity, at the call', () => {
    const t = lines(
      'name: w',
      'inputs:',
      '  s: {}',
      'tasks:',
      '  a:',
      '    sleep: { until: "${{ inputs.s + size(1, 2) }}" }',
    );
    expectOnly(t, 'RV407', 6, 'size');
  });

  test('a reference error hides the type error of the same expression', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    sleep: { until: "${{ inputs.nope + nosuch() }}" }');
    assert.deepEqual(
      validateWorkflowText(t).diagnostics.map((d) => d.code),
      ['RV403'],
    );
  });
});

describe('RV408 shell splice', () => {
  const shell = (...run: string[]): string =>
    lines(
      'name: w',
      'inputs:',
      '  x: {}',
      'tasks:',
      '  a:',
      '    shell:',
      '      run: |',
      ...run.map((l) => `        ${l}`),
    );

  test('a whole word outside quotes is accepted', () => {
    expectClean(shell('echo ${{ inputs.x }}', 'ls -l ${{ inputs.x }} | wc -l'));
  });

  test('inside double quotes', () => {
    expectOnly(shell('echo "value: ${{ inputs.x }}"'), 'RV408', 8, '${{');
  });

  test('inside single quotes', () => {
    expectOnly(shell("echo '${{ inputs.x }}'"), 'RV408', 8, '${{');
  });

  test('inside backticks', () => {
    expectOnly(shell('echo `echo ${{ inputs.x }}`'), 'RV408', 8, '${{');
  });

  test('in a heredoc', () => {
    const t = shell('cat <<EOF', 'hello ${{ inputs.x }}', 'EOF', 'echo ${{ inputs.x }}');
    expectOnly(t, 'RV408', 9, '${{');
  });

  test('in a plain one-line run', () => {
    const t = lines(
      'name: w',
      'inputs:',
      '  x: {}',
      'tasks:',
      '  a:',
      '    shell:',
      '      run: echo "${{ inputs.x }}"',
    );
    expectOnly(t, 'RV408', 7, '${{');
  });

  test('env values are not scripts', () => {
    expectClean(
      lines(
        'name: w',
        'inputs:',
        '  x: {}',
        'tasks:',
        '  a:',
        '    shell:',
        '      run: echo "$X"',
        '      env: { X: "pre ${{ inputs.x }}" }',
      ),
    );
  });

  test('every spliced expression is reported', () => {
    const t = shell('echo "${{ inputs.x }}" \'${{ inputs.x }}\' ${{ inputs.x }}');
    assert.deepEqual(found(t), [`RV408 ${where(t, 8, '${{')}`, `RV408 ${where(t, 8, '${{', 1)}`]);
  });
});

describe('whole-expression fields', () => {
  test('if without ${{ }} is RV204', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    if: inputs.x', '    noop:');
    expectOnly(t, 'RV204', 4, 'inputs.x');
  });

  test('if with text around the expression is RV204', () => {
    const t = lines('name: w', 'tasks:', '  a:', '    if: x ${{ true }}', '    noop:');
    expectOnly(t, 'RV204', 4, 'x ${{');
  });
});
