/**
 * Hand-written cases of the bad-input corpus (RELIABILITY.md section 4.5): each one names the
 * defect it carries and the error code (and, where it matters, the position, message or hint)
 * the validator must answer with.
 */
import { DEFAULT_YAML_LIMITS } from '../../src/model/index.ts';
import assert from 'node:assert/strict';
import type { ErrorCode } from '../../src/errors.ts';
import type { LoadedWorkflow } from '../../src/load.ts';
import { type Category, concat, type CorpusCase, utf8 } from './cases.ts';
import { SEEDS } from './seeds.ts';

type Extra = Partial<Pick<CorpusCase, 'code' | 'message' | 'hint' | 'at' | 'check'>>;

const BOM = [0xef, 0xbb, 0xbf];

function invalid(
  category: Category,
  name: string,
  doc: string | (() => Uint8Array | string),
  code: ErrorCode | readonly ErrorCode[],
  extra: Extra = {},
): CorpusCase {
  return { name, category, origin: 'hand-written', expect: 'invalid', code, ...extra, bytes: toBytes(doc) };
}

function valid(
  category: Category,
  name: string,
  doc: string | (() => Uint8Array | string),
  extra: Extra = {},
): CorpusCase {
  return { name, category, origin: 'hand-written', expect: 'valid', ...extra, bytes: toBytes(doc) };
}

function toBytes(doc: string | (() => Uint8Array | string)): () => Uint8Array {
  return () => {
    const d = typeof doc === 'string' ? doc : doc();
    return typeof d === 'string' ? utf8(d) : d;
  };
}

/** A small valid document; `tasks` replaces its task list. */
const wf = (tasks = '  a:\n    noop:\n', head = '') => `name: corpus\n${head}tasks:\n${tasks}`;

/** The diagnostics with `code` must number exactly `n`. */
const count = (code: ErrorCode, n: number) => (r: LoadedWorkflow) =>
  assert.equal(r.diagnostics.filter((d) => d.code === code).length, n, `expected ${n} × ${code}`);

// ---------------------------------------------------------------------------------------------

function malformedYaml(): CorpusCase[] {
  const c = 'malformed-yaml';
  return [
    invalid(c, 'flow sequence never closed', 'name: [a, b\ntasks:\n  a:\n    noop:\n', 'RV101'),
    invalid(c, 'flow mapping never closed at end of file', 'name: corpus\ntasks: {a: {noop: }\n', 'RV101'),
    invalid(
      c,
      'double-quoted string never closed',
      'name: corpus\ndescription: "runs away\ntasks:\n  a:\n    noop:\n',
      'RV101',
    ),
    invalid(
      c,
      'double-quoted string never closed at end of file',
      'name: corpus\ntasks: {a: {noop: }}\ndescription: "end',
      'RV101',
    ),
    invalid(c, 'single-quoted string never closed', "name: corpus\ndescription: 'runs away\n", 'RV101'),
    invalid(c, 'nested mapping on one line', 'name: a: b\ntasks:\n  a:\n    noop:\n', 'RV101'),
    invalid(c, 'text after a quoted scalar', 'name: "corpus" more\ntasks:\n  a:\n    noop:\n', 'RV101'),
    invalid(c, 'sequence then mapping at the same level', '- a\nname: corpus\n', 'RV101'),
    invalid(c, 'reserved indicator @', 'name: @corpus\ntasks:\n  a:\n    noop:\n', 'RV101'),
    invalid(c, 'reserved indicator `', 'name: `corpus`\ntasks:\n  a:\n    noop:\n', 'RV101'),
    invalid(
      c,
      'bad indentation of a mapping entry',
      'name: corpus\ntasks:\n  a:\n    noop:\n   b:\n    noop:\n',
      'RV101',
    ),
    invalid(c, 'tab indentation', 'name: corpus\ntasks:\n\ta:\n\t\tnoop:\n', 'RV101', {
      hint: /indent with spaces/,
      at: { line: 3, col: 1 },
    }),
    invalid(c, 'tab indentation deep in a task', 'name: corpus\ntasks:\n  a:\n  \tnoop:\n', 'RV101'),
    valid(c, 'a tab after a colon is separation, not indentation', 'name:\tcorpus\ntasks:\n  a:\n    noop:\n'),
    invalid(c, 'duplicate top-level key', 'name: corpus\nname: again\ntasks:\n  a:\n    noop:\n', 'RV102', {
      at: { line: 2, col: 1 },
      message: /duplicate key "name" \(first defined at line 1\)/,
    }),
    invalid(c, 'duplicate key in a task', wf('  a:\n    noop:\n    timeout: 1s\n    timeout: 2s\n'), 'RV102', {
      at: { line: 6, col: 5 },
    }),
    invalid(
      c,
      'duplicate key deep in a json body',
      wf('  a:\n    http:\n      url: "https://h.test"\n      json: { k: 1, k: 2 }\n'),
      'RV102',
    ),
    invalid(c, 'duplicate key spelt two ways', 'name: corpus\n"name": again\ntasks:\n  a:\n    noop:\n', 'RV102'),
    invalid(
      c,
      'duplicate keys everywhere are all reported',
      'name: a\nname: b\ntasks:\n  a: {noop: , when: always, when: failure}\ndescription: x\ndescription: y\n',
      'RV102',
      {
        check: count('RV102', 3),
      },
    ),
    invalid(c, 'duplicate task id', wf('  a:\n    noop:\n  a:\n    noop:\n'), 'RV303', { at: { line: 5, col: 3 } }),
    invalid(c, 'two documents', 'name: corpus\ntasks: {a: {noop: }}\n---\nname: other\n', 'RV109', {
      at: { line: 3, col: 1 },
    }),
    invalid(
      c,
      'a second document after an end marker',
      'name: corpus\ntasks: {a: {noop: }}\n...\nname: other\n',
      'RV109',
      {
        at: { line: 4, col: 1 },
      },
    ),
    invalid(c, 'empty file', '', 'RV100'),
    invalid(c, 'only comments', '# nothing here\n# at all\n', 'RV100'),
    invalid(c, 'only a document marker', '---\n', 'RV100'),
    invalid(c, 'a list at the top level', '- name: corpus\n', 'RV103'),
    invalid(c, 'a scalar at the top level', 'just text\n', 'RV103'),
    invalid(c, 'an alias to an undefined anchor', 'name: *nowhere\ntasks:\n  a:\n    noop:\n', 'RV101', {
      at: { line: 1, col: 7 },
    }),
    invalid(c, 'an alias to itself', 'name: corpus\ntasks: &t {a: *t}\n', 'RV101'),
    invalid(c, 'an alias as a mapping key', 'x: &k a\nname: corpus\ntasks: {*k : {noop: }}\n', 'RV101'),
    invalid(c, 'a collection as a mapping key', 'name: corpus\ntasks: {a: {noop: }}\n? [a, b]\n: 1\n', 'RV101'),
    invalid(
      c,
      'non-printable control character',
      'name: corpus\ndescription: a\u0007b\ntasks:\n  a:\n    noop:\n',
      'RV101',
    ),
  ];
}

// ---------------------------------------------------------------------------------------------

function schema(): CorpusCase[] {
  const c = 'schema';
  return [
    invalid(c, 'tasks is a number', 'name: corpus\ntasks: 5\n', 'RV202', { message: /tasks must be a mapping, got 5/ }),
    invalid(c, 'tasks with no value', 'name: corpus\ntasks:\n', 'RV202', { at: { line: 2, col: 1 } }),
    invalid(c, 'an empty task is placed at its key', wf('  a:\n  b:\n    noop:\n'), 'RV202', {
      at: { line: 3, col: 3 },
    }),
    invalid(c, 'name is a list', 'name: [corpus]\ntasks:\n  a:\n    noop:\n', 'RV202'),
    invalid(c, 'needs is a mapping', wf('  a:\n    noop:\n  b:\n    needs: { a: 1 }\n    noop:\n'), 'RV202'),
    invalid(c, 'retry is a number', wf('  a:\n    noop:\n    retry: 3\n'), 'RV202'),
    invalid(c, 'retry attempts is a word', wf('  a:\n    noop:\n    retry: { attempts: five }\n'), 'RV202'),
    invalid(c, 'retry attempts over the maximum', wf('  a:\n    noop:\n    retry: { attempts: 1000 }\n'), 'RV204'),
    invalid(c, 'when outside its set', wf('  a:\n    noop:\n    when: sometimes\n'), 'RV204'),
    invalid(
      c,
      'http method outside its set',
      wf('  a:\n    http: { url: "https://h.test", method: FETCH }\n'),
      'RV204',
    ),
    invalid(c, 'unknown top-level field, misspelt', 'name: corpus\ndescripton: x\ntasks:\n  a:\n    noop:\n', 'RV201', {
      hint: /did you mean "description"\?/,
      at: { line: 2, col: 1 },
    }),
    invalid(c, 'unknown task field, misspelt', wf('  a:\n    noop:\n    neds: [b]\n'), 'RV201', {
      hint: /did you mean "needs"\?/,
    }),
    invalid(
      c,
      'unknown http field, misspelt',
      wf('  a:\n    http:\n      url: "https://h.test"\n      heders: {}\n'),
      'RV201',
      {
        hint: /did you mean "headers"\?/,
      },
    ),
    invalid(c, 'unknown task kind, misspelt', wf('  a:\n    htp:\n      url: "https://h.test"\n'), 'RV207', {
      hint: /did you mean "http"\?/,
    }),
    invalid(c, 'a task with two kinds', wf('  a:\n    noop:\n    sleep: { duration: 1s }\n'), 'RV207'),
    invalid(c, 'a task with no kind', wf('  a:\n    timeout: 1s\n'), 'RV207'),
    invalid(c, 'no name', 'tasks:\n  a:\n    noop:\n', 'RV203', { message: /"name"/ }),
    invalid(c, 'no tasks', 'name: corpus\n', 'RV203'),
    invalid(c, 'tasks and process together', 'name: corpus\nprocess: { run: x }\ntasks:\n  a:\n    noop:\n', 'RV204'),
    invalid(c, 'an empty task mapping', 'name: corpus\ntasks: {}\n', 'RV204'),
    invalid(c, 'http without url', wf('  a:\n    http:\n      method: GET\n'), 'RV203', { message: /"url"/ }),
    invalid(c, 'retry without attempts', wf('  a:\n    noop:\n    retry: { delay: 1s }\n'), 'RV203'),
    invalid(c, 'schedule without cron', wf(undefined, 'on:\n  schedule: { timezone: UTC }\n'), 'RV203'),
    invalid(c, 'approval without message', wf('  a:\n    approval: { approvers: [x] }\n'), 'RV203'),
    invalid(c, 'webhook without kind', wf(undefined, 'on:\n  webhook: { secret: s }\n'), 'RV203'),
    invalid(c, 'amqp without topic', wf(undefined, 'on:\n  amqp: { exchange: x }\n'), 'RV203'),
    invalid(c, 'catalog without title', wf(undefined, 'catalog: { category: x }\n'), 'RV203'),
    invalid(
      c,
      'basic auth without username',
      wf('  a:\n    http: { url: "https://h.test", auth: { basic: { password: p } } }\n'),
      'RV203',
    ),
    invalid(c, 'shell with neither run nor command', wf('  a:\n    shell: { env: { A: b } }\n'), 'RV203'),
    invalid(c, 'shell with both run and command', wf('  a:\n    shell: { run: x, command: [x] }\n'), 'RV204'),
    invalid(c, 'sleep with neither duration nor until', wf('  a:\n    sleep: {}\n'), 'RV203'),
    invalid(c, 'process with neither run nor command', 'name: corpus\nprocess: { cwd: x }\n', 'RV203'),
    ...['Bad-Id', '1abc', 'a.b', 'with space', '', 'ünï', 'UPPER', 'a-b', 'tâche'].map((id) =>
      invalid(
        c,
        `task id ${JSON.stringify(id)}`,
        wf(`  a:\n    noop:\n  ${JSON.stringify(id)}:\n    noop:\n`),
        'RV205',
        {
          at: { line: 5, col: 3 },
        },
      ),
    ),
    invalid(c, 'a numeric task id', wf('  a:\n    noop:\n  123:\n    noop:\n'), 'RV205'),
    invalid(
      c,
      'input name with a dash',
      'name: corpus\ninputs:\n  team-name: { type: string }\ntasks:\n  a:\n    noop:\n',
      'RV205',
    ),
    ...['5 minutes', '1.h', '-1s', '1h 30m', '10', 'PT5M', '1w', '5m30', ''].map((d) =>
      invalid(c, `duration ${JSON.stringify(d)}`, wf(`  a:\n    noop:\n    timeout: ${JSON.stringify(d)}\n`), 'RV206', {
        at: { line: 5, col: 14 },
      }),
    ),
    invalid(c, 'duration as a bare number', wf('  a:\n    noop:\n    timeout: 30\n'), 'RV202'),
    invalid(
      c,
      'retry max_delay shorter than delay',
      wf('  a:\n    noop:\n    retry: { attempts: 3, delay: 1m, max_delay: 5s }\n'),
      'RV204',
    ),
    ...['61 * * * *', '* * *', '@bogus', '*/0 * * * *', '* * 32 * *', '* * * 13 *', '5-1 * * * *', 'x * * * *'].map(
      (cron) =>
        invalid(
          c,
          `cron ${JSON.stringify(cron)}`,
          wf(undefined, `on:\n  schedule:\n    cron: ${JSON.stringify(cron)}\n`),
          'RV209',
          {
            at: { line: 4, col: 11 },
          },
        ),
    ),
    invalid(
      c,
      'unknown time zone, misspelt',
      wf(undefined, 'on:\n  schedule: { cron: "0 3 * * *", timezone: Europe/Pari }\n'),
      'RV209',
      {
        hint: /did you mean "Europe\/Paris"\?/,
      },
    ),
    invalid(c, 'unknown input type', 'name: corpus\ninputs:\n  a: { type: str }\ntasks:\n  a:\n    noop:\n', 'RV208', {
      hint: /did you mean "string"\?/,
    }),
    invalid(
      c,
      'default of the wrong type',
      'name: corpus\ninputs:\n  n: { type: integer, default: many }\ntasks:\n  a:\n    noop:\n',
      'RV210',
    ),
    invalid(
      c,
      'default outside the enum',
      'name: corpus\ninputs:\n  n: { type: string, enum: [a, b], default: c }\ntasks:\n  a:\n    noop:\n',
      'RV210',
    ),
    invalid(
      c,
      'default not matching the pattern',
      'name: corpus\ninputs:\n  n: { type: string, pattern: "^[a-z]+$", default: "A1" }\ntasks:\n  a:\n    noop:\n',
      'RV210',
    ),
    invalid(
      c,
      'pattern that is not a regular expression',
      'name: corpus\ninputs:\n  n: { type: string, pattern: "([a-" }\ntasks:\n  a:\n    noop:\n',
      'RV204',
    ),
  ];
}

// ---------------------------------------------------------------------------------------------

/** A cycle of `n` tasks, t0 needing t1 needing ... t(n-1) needing t0. */
function cycleDocument(n: number, style: 'list' | 'string'): string {
  const lines = ['name: corpus', 'tasks:'];
  for (let i = 0; i < n; i++) {
    const next = `t${(i + 1) % n}`;
    lines.push(`  t${i}:`, style === 'list' ? `    needs: [${next}]` : `    needs: ${next}`, '    noop:');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The RV302 diagnostic must name the cycle: the path it prints (which may elide the middle of a
 * long cycle as "… N more …") starts and ends at the same task, each task it names needs the next,
 * and the elided count makes up the whole cycle.
 */
function namesCycle(n: number) {
  return (r: LoadedWorkflow): void => {
    const d = r.diagnostics.find((x) => x.code === 'RV302');
    assert.ok(d, 'no RV302');
    const path = /dependency cycle: (.*) \(each task needs the next\)/.exec(d.message)?.[1];
    assert.ok(path, `RV302 names no path: ${d.message}`);
    const parts = path.split(' → ');
    let elided = 0;
    const ids: (string | undefined)[] = parts.map((p) => {
      const m = /^… (\d+) more …$/.exec(p);
      if (m) elided += Number(m[1]);
      return m ? undefined : p;
    });
    assert.equal(
      ids.filter((x) => x !== undefined).length + elided,
      n + 1,
      `the path should hold ${n} tasks and close: ${path}`,
    );
    assert.equal(ids[0], ids.at(-1), 'the path must close on its first task');
    for (let i = 0; i + 1 < ids.length; i++) {
      const [a, b] = [ids[i], ids[i + 1]];
      if (a === undefined || b === undefined) continue;
      assert.equal(b, `t${(Number(a.slice(1)) + 1) % n}`, `${a} does not need ${b}`);
    }
    const named = new Set(ids.filter((x) => x !== undefined));
    assert.ok(named.size >= Math.min(n, 39), `the path names only ${named.size} tasks`);
  };
}

function graph(): CorpusCase[] {
  const c = 'graph';
  return [
    invalid(c, 'a task needing itself', wf('  a:\n    needs: [a]\n    noop:\n'), 'RV302', {
      message: /"a" needs itself/,
      at: { line: 4, col: 13 },
    }),
    invalid(c, 'a task needing itself (string form)', wf('  a:\n    needs: a\n    noop:\n'), 'RV302', {
      message: /needs itself/,
    }),
    invalid(c, 'a 2-cycle', wf('  a:\n    needs: [b]\n    noop:\n  b:\n    needs: [a]\n    noop:\n'), 'RV302', {
      message: /a → b → a/,
      check: namesCycleLetters(['a', 'b']),
    }),
    invalid(
      c,
      'a 3-cycle',
      wf('  a:\n    needs: [b]\n    noop:\n  b:\n    needs: [c]\n    noop:\n  c:\n    needs: [a]\n    noop:\n'),
      'RV302',
      {
        message: /a → b → c → a/,
      },
    ),
    invalid(c, 'a 1,000-task cycle', () => cycleDocument(1000, 'list'), 'RV302', { check: namesCycle(1000) }),
    invalid(c, 'a 1,000-task cycle (needs as strings)', () => cycleDocument(1000, 'string'), 'RV302', {
      check: namesCycle(1000),
    }),
    invalid(c, 'a 40-task cycle, printed in full', () => cycleDocument(40, 'list'), 'RV302', { check: namesCycle(40) }),
    invalid(
      c,
      'two separate cycles',
      wf(
        '  a: {noop: , needs: [b]}\n  b: {noop: , needs: [a]}\n  c: {noop: , needs: [d]}\n  d: {noop: , needs: [c]}\n',
      ),
      'RV302',
      {
        check: count('RV302', 2),
      },
    ),
    invalid(
      c,
      'tasks behind a cycle can never run',
      wf(
        '  a: {noop: , needs: [b]}\n  b: {noop: , needs: [a]}\n  later: {noop: , needs: [a]}\n  last: {noop: , needs: [later]}\n',
      ),
      'RV302',
    ),
    invalid(
      c,
      'needs an unknown task, misspelt',
      wf('  fetch_data:\n    noop:\n  b:\n    needs: [fetch_dat]\n    noop:\n'),
      'RV301',
      {
        hint: /did you mean "fetch_data"\?/,
        at: { line: 6, col: 13 },
      },
    ),
    invalid(
      c,
      'needs an unknown task, nothing close',
      wf('  a:\n    noop:\n  b:\n    needs: zzzzzz\n    noop:\n'),
      'RV301',
      { hint: /tasks: a, b/ },
    ),
    invalid(
      c,
      'needs a name that is not an identifier',
      wf('  a:\n    noop:\n  b:\n    needs: [Not-Id]\n    noop:\n'),
      'RV205',
    ),
    valid(c, 'needing the same task twice is harmless', wf('  a:\n    noop:\n  b:\n    needs: [a, a]\n    noop:\n')),
    valid(
      c,
      'a diamond',
      wf('  a: {noop: }\n  b: {noop: , needs: a}\n  c: {noop: , needs: a}\n  d: {noop: , needs: [b, c]}\n'),
    ),
  ];
}

function namesCycleLetters(ids: string[]) {
  return (r: LoadedWorkflow): void => {
    const d = r.diagnostics.find((x) => x.code === 'RV302')!;
    for (const id of ids) assert.match(d.message, new RegExp(`\\b${id}\\b`));
  };
}

// ---------------------------------------------------------------------------------------------

const refDoc = (expr: string, extraTasks = '') => `name: corpus
inputs:
  team_name: { type: string }
tasks:
  find_team:
    http: { url: "https://x.example" }
    outputs:
      team_id: \${{ response.body.id }}
  use:
    needs: [find_team]
    http:
      url: https://x.example
      json: { v: "${expr}" }
${extraTasks}`;

function references(): CorpusCase[] {
  const c = 'references';
  return [
    invalid(c, 'unknown input, misspelt', refDoc('${{ inputs.team_nme }}'), 'RV403', {
      hint: /did you mean "team_name"\?/,
      at: { line: 13, col: 30 },
    }),
    invalid(c, 'unknown input, nothing close', refDoc('${{ inputs.zzzzzzzz }}'), 'RV403', {
      hint: /declared inputs: team_name/,
    }),
    invalid(c, 'unknown task, misspelt', refDoc('${{ tasks.find_tem.status }}'), 'RV404', {
      hint: /did you mean "find_team"\?/,
      at: { line: 13, col: 29 },
    }),
    invalid(c, 'unknown output, misspelt', refDoc('${{ tasks.find_team.outputs.team_di }}'), 'RV406', {
      hint: /did you mean "team_id"\?/,
      at: { line: 13, col: 47 },
    }),
    invalid(c, 'unknown root variable, misspelt', refDoc('${{ input.team_name }}'), 'RV402', {
      hint: /did you mean "inputs"\?/,
    }),
    invalid(c, 'unknown run field, misspelt', refDoc('${{ run.idd }}'), 'RV402', { hint: /did you mean "id"\?/ }),
    invalid(c, 'unknown task field, misspelt', refDoc('${{ tasks.find_team.outptus }}'), 'RV402', {
      hint: /did you mean "outputs"\?/,
    }),
    invalid(c, 'a task that is not upstream', refDoc('${{ tasks.other.status }}', '  other:\n    noop:\n'), 'RV405', {
      hint: /add "other" to the needs of "use"/,
    }),
    invalid(c, 'a task reading itself', refDoc('${{ tasks.use.status }}'), 'RV405'),
    invalid(c, 'item outside for_each', refDoc('${{ item }}'), 'RV402', { message: /for_each/ }),
    invalid(c, "response outside an http task's outputs", refDoc('${{ response.status }}'), 'RV402'),
    invalid(
      c,
      'tasks inside a trigger',
      wf(undefined, 'on:\n  webhook: { kind: generic, inputs: { a: "${{ tasks.a.status }}" } }\n'),
      'RV402',
    ),
    invalid(c, 'a prototype name as an input reference', refDoc('${{ inputs.__proto__ }}'), 'RV403'),
    invalid(c, 'a prototype name as a task reference', refDoc('${{ tasks.constructor.status }}'), 'RV404'),
  ];
}

function expressions(): CorpusCase[] {
  const c = 'expressions';
  const at = (expr: string) => wf(`  a:\n    noop:\n    if: "\${{ ${expr} }}"\n`);
  return [
    invalid(c, 'CEL syntax error', at('1 +'), 'RV401', { message: /invalid expression/ }),
    invalid(c, 'unbalanced parenthesis', at('(1 + 2'), 'RV401'),
    invalid(c, 'unclosed template', wf('  a:\n    noop:\n    if: "${{ true"\n'), 'RV401', {
      hint: /close the expression/,
    }),
    invalid(c, 'empty expression', at(''), 'RV401'),
    invalid(c, 'type error int + string', at("1 + 'a'"), 'RV407', { message: /int \+ string/ }),
    invalid(c, 'type error on a list', at('[1] - 1'), 'RV407'),
    invalid(c, 'unknown function', at('frobnicate(1)'), 'RV407', { message: /frobnicate/ }),
    invalid(c, 'wrong arity of a function', at('size(1, 2)'), 'RV407'),
    invalid(c, 'wrong arity of a method', at("'a'.startsWith()"), 'RV407'),
    invalid(c, 'if that is not an expression', wf('  a:\n    noop:\n    if: "true"\n'), 'RV204'),
    invalid(
      c,
      'an expression spliced into a shell script',
      'name: corpus\ninputs:\n  u: { type: string }\ntasks:\n  a:\n    shell:\n      run: echo "${{ inputs.u }}"\n',
      'RV408',
    ),
    invalid(c, '10,000 nested parentheses', () => at(`${'('.repeat(10_000)}1${')'.repeat(10_000)}`), 'RV401'),
    invalid(c, '5,000 nested list literals', () => at(`${'['.repeat(5000)}${']'.repeat(5000)}`), 'RV401'),
    invalid(c, '50,000 negations', () => at(`${'!'.repeat(50_000)}true`), 'RV401'),
    invalid(c, '20,000 member accesses', () => at(`event${'.a'.repeat(20_000)}`), 'RV401'),
    invalid(c, '20,000-term sum', () => at(Array(20_000).fill('1').join(' + ')), 'RV401'),
    invalid(c, '5,000 nested conditionals', () => at(`${'true ? '.repeat(5000)}1${' : 2'.repeat(5000)}`), 'RV401'),
  ];
}

// ---------------------------------------------------------------------------------------------

function size(): CorpusCase[] {
  const c = 'size';
  const mib = 1024 * 1024;
  return [
    invalid(
      c,
      '10 MB document',
      () => `name: corpus\ndescription: ${'a'.repeat(10_000_000)}\ntasks:\n  a:\n    noop:\n`,
      'RV107',
      {
        message: /bytes; the limit is 1048576/,
        at: { line: 1, col: 1 },
      },
    ),
    invalid(
      c,
      'one 5 MB string',
      () => `name: corpus\ndescription: "${'x'.repeat(5_000_000)}"\ntasks:\n  a:\n    noop:\n`,
      'RV107',
    ),
    invalid(
      c,
      '100,000 tasks',
      () => wf(Array.from({ length: 100_000 }, (_, i) => `  t${i}:\n    noop:\n`).join('')),
      'RV107',
    ),
    invalid(
      c,
      '100,001 tasks in flow style, under 1 MiB (over the keys-per-mapping limit)',
      () => `name: corpus\ntasks: {${Array.from({ length: 100_001 }, (_, i) => `${i.toString(36)}: `).join(',')}}\n`,
      'RV107',
      {
        message: new RegExp(`more than ${DEFAULT_YAML_LIMITS.maxCollectionItems} keys`),
      },
    ),
    invalid(
      c,
      '1,000,000-element flow sequence',
      () => wf(`  a:\n    http:\n      url: "https://h.test"\n      json: [${'0,'.repeat(999_999)}0]\n`),
      'RV107',
    ),
    invalid(
      c,
      '100,001-element flow sequence, under 1 MiB',
      () => wf(`  a:\n    http:\n      url: "https://h.test"\n      json: [${'0,'.repeat(100_000)}0]\n`),
      'RV107',
      {
        message: new RegExp(`more than ${DEFAULT_YAML_LIMITS.maxCollectionItems} items`),
      },
    ),
    invalid(
      c,
      'a 300,000-character string, under 1 MiB',
      () => `name: corpus\ndescription: ${'y'.repeat(300_000)}\ntasks:\n  a:\n    noop:\n`,
      'RV107',
      {
        message: /a string of 300000 characters/,
        at: { line: 2, col: 14 },
      },
    ),
    valid(
      c,
      'a string of exactly 256 KiB',
      () => `name: corpus\ndescription: ${'y'.repeat(256 * 1024)}\ntasks:\n  a:\n    noop:\n`,
    ),
    invalid(
      c,
      'a string of 256 KiB + 1',
      () => `name: corpus\ndescription: ${'y'.repeat(256 * 1024 + 1)}\ntasks:\n  a:\n    noop:\n`,
      'RV107',
    ),
    valid(c, 'a document of exactly 1 MiB', () => padTo(wf(), mib)),
    invalid(c, 'a document of 1 MiB + 1 byte', () => padTo(wf(), mib + 1), 'RV107'),
    valid(c, 'a 5,000-task layered workflow', () => layered(50, 100)),
  ];
}

/** A valid document padded with comment lines to exactly `bytes` bytes. */
function padTo(doc: string, bytes: number): string {
  let out = doc;
  while (out.length < bytes) {
    const room = bytes - out.length;
    out += room > 80 ? `#${'-'.repeat(78)}\n` : `#${'-'.repeat(Math.max(0, room - 2))}\n`.slice(0, room);
  }
  return out;
}

/** The benchmark's shape: `layers` x `width` tasks, each needing two of the layer above. */
function layered(layers: number, width: number): string {
  const lines = ['name: layered', 'inputs:', '  label: { type: string, default: x }', 'tasks:'];
  for (let l = 0; l < layers; l++) {
    for (let w = 0; w < width; w++) {
      lines.push(`  t${l}_${w}:`);
      if (l > 0) lines.push(`    needs: [t${l - 1}_${w}, t${l - 1}_${(w + 1) % width}]`);
      if (w % 10 === 0) lines.push(`    if: \${{ inputs.label != "skip" }}`);
      lines.push('    noop: {}');
    }
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------

function aliasBombs(): CorpusCase[] {
  const c = 'alias-bombs';
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (const [x, y] of ['ba', 'cb', 'dc', 'ed', 'fe', 'gf', 'hg', 'ih'])
    laughs.push(`${x}: &${x} [${Array(9).fill(`*${y}`).join(',')}]`);
  const billion = `${laughs.join('\n')}\n`;
  return [
    invalid(c, '9x9 billion laughs under 1 kB', billion, 'RV104', {
      check: () => assert.ok(utf8(billion).length < 1024, `the bomb is ${utf8(billion).length} bytes`),
    }),
    invalid(
      c,
      'billion laughs inside a task body',
      wf(
        `  a:\n    http:\n      url: "https://h.test"\n      json:\n${laughs.map((l) => `        ${l}`).join('\n')}\n`,
      ),
      'RV104',
    ),
    invalid(
      c,
      'quadratic: a 5,000-item list aliased 100 times',
      () => `list: &l [${'0,'.repeat(4999)}0]\nuses: [${Array(100).fill('*l').join(', ')}]\n`,
      'RV104',
    ),
    invalid(
      c,
      'quadratic: a 1,000-item list into 30 for_each',
      () =>
        wf(
          `  a:\n    for_each: &l [${Array.from({ length: 1000 }, (_, i) => i).join(', ')}]\n    noop:\n${Array.from({ length: 30 }, (_, i) => `  t${i}:\n    for_each: *l\n    noop:\n`).join('')}`,
        ),
      'RV104',
      {
        message: /aliases expand to more than 10000 nodes/,
      },
    ),
    valid(
      c,
      'a small list aliased into for_each',
      wf('  a:\n    for_each: &l [1, 2, 3]\n    noop:\n  b:\n    for_each: *l\n    noop:\n'),
    ),
    invalid(
      c,
      'quadratic: a 200 kB string aliased 5,000 times',
      () =>
        `name: corpus\ntasks:\n  a:\n    noop:\n    outputs:\n      o0: &s "${'z'.repeat(200_000)}"\n${Array.from({ length: 4999 }, (_, i) => `      o${i + 1}: *s\n`).join('')}`,
      'RV104',
    ),
    invalid(
      c,
      'quadratic: 1,000 expressions aliased 2,000 times',
      () => {
        const exprs = Array.from({ length: 1000 }, (_, i) => `\${{ inputs.x${i % 10} + '${i}' }}`).join(' ');
        return `name: corpus\ninputs: {x0: {type: string}}\ntasks:\n  a:\n    noop:\n    outputs:\n      o0: &e "${exprs}"\n${Array.from({ length: 1999 }, (_, i) => `      o${i + 1}: *e\n`).join('')}`;
      },
      'RV104',
    ),
    valid(c, 'a shared 2 kB script aliased into 20 tasks', () => {
      const script = Array.from({ length: 60 }, (_, i) => `echo line ${i} of the shared script`).join('\n        ');
      return wf(
        `  t0:\n    shell:\n      run: &script |\n        ${script}\n${Array.from({ length: 19 }, (_, i) => `  t${i + 1}:\n    shell:\n      run: *script\n`).join('')}`,
      );
    }),
    invalid(
      c,
      'merge key << carrying __proto__',
      'base: &b { __proto__: { polluted: true } }\nname: corpus\ntasks:\n  a:\n    <<: *b\n    noop:\n',
      'RV110',
      {
        check: (r) =>
          assert.ok(
            r.diagnostics.some((d) => d.code === 'RV201' && /merge keys/.test(d.hint ?? '')),
            'no hint about merge keys',
          ),
      },
    ),
    invalid(
      c,
      'merge key << carrying constructor.prototype',
      wf('  a:\n    noop:\n    <<: { constructor: { prototype: { polluted: 1 } } }\n'),
      'RV110',
      {
        check: count('RV110', 2),
      },
    ),
    valid(c, 'alias chains 900 levels deep stay data', () => {
      const lines = [`        l0: &l0 ${'['.repeat(55)}1${']'.repeat(55)}`];
      for (let k = 1; k < 16; k++) lines.push(`        l${k}: &l${k} ${'['.repeat(55)}*l${k - 1}${']'.repeat(55)}`);
      return wf(`  a:\n    http:\n      url: "https://h.test"\n      json:\n${lines.join('\n')}\n`);
    }),
  ];
}

function depth(): CorpusCase[] {
  const c = 'depth';
  const body = (json: string) => wf(`  a:\n    http:\n      url: "https://h.test"\n      json: ${json}\n`);
  return [
    invalid(
      c,
      '10,000-level nested flow sequences',
      () => body(`${'['.repeat(10_000)}${']'.repeat(10_000)}`),
      'RV105',
      {
        message: /nested deeper than 64/,
      },
    ),
    invalid(
      c,
      '10,000-level nested flow mappings',
      () => body(`${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}`),
      'RV105',
    ),
    invalid(
      c,
      '10,000 levels of alternating flow collections',
      () => body(`${'[{a: '.repeat(5000)}1${'}]'.repeat(5000)}`),
      'RV105',
    ),
    invalid(c, '100,000 unclosed [', () => body('['.repeat(100_000)), ['RV105', 'RV101']),
    invalid(c, '10,000-level flow sequences at the top', () => `${'['.repeat(10_000)}${']'.repeat(10_000)}`, 'RV105'),
    invalid(
      c,
      '1,000-level block mappings',
      () => Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' 1\n',
      'RV105',
    ),
    invalid(c, '10,000-level compact block sequences', () => `${'- '.repeat(10_000)}x\n`, 'RV105'),
    invalid(
      c,
      '70-level block mappings in a task',
      () =>
        wf(
          `  a:\n    http:\n      url: "https://h.test"\n      json:\n${Array.from({ length: 70 }, (_, i) => `${' '.repeat(8 + 2 * i)}k:`).join('\n')} 1\n`,
        ),
      'RV105',
    ),
    valid(c, '50-level block mappings in a task', () =>
      wf(
        `  a:\n    http:\n      url: "https://h.test"\n      json:\n${Array.from({ length: 50 }, (_, i) => `${' '.repeat(8 + 2 * i)}k:`).join('\n')} 1\n`,
      ),
    ),
  ];
}

// ---------------------------------------------------------------------------------------------

function encoding(): CorpusCase[] {
  const c = 'encoding';
  const doc = wf();
  const withBytes = (before: string, bytes: readonly number[], after: string) => () => concat(before, bytes, after);
  return [
    invalid(c, '0xFF as the first byte', withBytes('', [0xff], doc), 'RV108', {
      at: { line: 1, col: 1 },
      message: /0xff at byte 0/,
    }),
    invalid(c, 'invalid byte on line 3', withBytes('name: corpus\ntasks:\n  a', [0xfe], ':\n    noop:\n'), 'RV108', {
      at: { line: 3, col: 4 },
    }),
    invalid(
      c,
      'invalid byte after multi-byte text',
      withBytes('name: corpus\ndescription: équipe 🚀 ', [0x80], '\ntasks:\n  a:\n    noop:\n'),
      'RV108',
      {
        at: { line: 2, col: 24 }, // columns count UTF-16 units, like editors and LSP: 🚀 is two
      },
    ),
    invalid(c, 'overlong 2-byte "/"', withBytes('name: corpus', [0xc0, 0xaf], `\n${doc}`), 'RV108'),
    invalid(c, 'overlong 3-byte "/"', withBytes('name: corpus', [0xe0, 0x80, 0xaf], `\n${doc}`), 'RV108'),
    invalid(c, 'overlong 4-byte "/"', withBytes('name: corpus', [0xf0, 0x80, 0x80, 0xaf], `\n${doc}`), 'RV108'),
    invalid(c, 'overlong NUL (modified UTF-8)', withBytes('name: corpus', [0xc0, 0x80], `\n${doc}`), 'RV108'),
    invalid(c, 'UTF-8 encoded high surrogate', withBytes('name: "', [0xed, 0xa0, 0x80], `"\n${doc}`), 'RV108', {
      at: { line: 1, col: 8 },
    }),
    invalid(c, 'UTF-8 encoded low surrogate', withBytes('name: "', [0xed, 0xbf, 0xbf], `"\n${doc}`), 'RV108'),
    invalid(c, 'code point above U+10FFFF', withBytes('name: "', [0xf4, 0x90, 0x80, 0x80], `"\n${doc}`), 'RV108'),
    invalid(c, 'sequence cut at the end of the file', withBytes(doc, [0xe2, 0x82], ''), 'RV108'),
    invalid(
      c,
      'escaped lone high surrogate "\\ud800"',
      `name: corpus\ndescription: "\\ud800"\ntasks:\n  a:\n    noop:\n`,
      'RV108',
      {
        at: { line: 2, col: 14 },
      },
    ),
    invalid(
      c,
      'escaped lone low surrogate "\\udc00"',
      `name: corpus\ndescription: "x\\udc00"\ntasks:\n  a:\n    noop:\n`,
      'RV108',
    ),
    invalid(
      c,
      'escaped surrogates in the wrong order',
      `name: corpus\ndescription: "\\udc00\\ud800"\ntasks:\n  a:\n    noop:\n`,
      'RV108',
    ),
    valid(
      c,
      'an escaped surrogate pair is one character',
      `name: corpus\ndescription: "\\ud83d\\ude80"\ntasks:\n  a:\n    noop:\n`,
    ),
    invalid(c, 'a BOM alone is an empty file, not an encoding error', () => Uint8Array.from(BOM), 'RV100'),
    invalid(
      c,
      'a BOM does not shift positions',
      () => concat(BOM, 'name: a\nname: b\ntasks:\n  a:\n    noop:\n'),
      'RV102',
      { at: { line: 2, col: 1 } },
    ),
    invalid(
      c,
      'UTF-16LE with its BOM',
      () => Uint8Array.from([0xff, 0xfe, ...[...doc].flatMap((ch) => [ch.charCodeAt(0), 0])]),
      'RV108',
    ),
    invalid(
      c,
      'UTF-16BE with its BOM',
      () => Uint8Array.from([0xfe, 0xff, ...[...doc].flatMap((ch) => [0, ch.charCodeAt(0)])]),
      'RV108',
    ),
    invalid(c, 'a NUL byte', withBytes('name: corpus\ndescription: a', [0], `b\ntasks:\n  a:\n    noop:\n`), 'RV108', {
      at: { line: 2, col: 15 },
    }),
    invalid(c, 'a \\0 escape', 'name: corpus\ndescription: "a\\0b"\ntasks:\n  a:\n    noop:\n', 'RV108'),
    invalid(c, 'a \\x00 escape', 'name: corpus\ndescription: "a\\x00b"\ntasks:\n  a:\n    noop:\n', 'RV108'),
    invalid(c, 'a \\u0000 escape', 'name: corpus\ndescription: "a\\u0000b"\ntasks:\n  a:\n    noop:\n', 'RV108'),
    invalid(c, 'CRLF does not shift lines', 'name: a\r\ntasks:\r\n  a:\r\n    noop:\r\nname: b\r\n', 'RV102', {
      at: { line: 5, col: 1 },
    }),
    ...SEEDS.flatMap((seed) => [
      valid(c, `${seed.name} with a BOM`, () => concat(BOM, seed.text)),
      valid(c, `${seed.name} with CRLF`, () => seed.text.split('\n').join('\r\n')),
      valid(c, `${seed.name} with a BOM and mixed line endings`, () =>
        concat(
          BOM,
          seed.text
            .split('\n')
            .map((l, i) => l + (i % 2 ? '\r\n' : '\n'))
            .join(''),
        ),
      ),
    ]),
  ];
}

// ---------------------------------------------------------------------------------------------

function prototypeKeys(): CorpusCase[] {
  const c = 'prototype-keys';
  return [
    invalid(c, '__proto__ as a task id', wf('  a:\n    noop:\n  __proto__:\n    noop:\n'), 'RV110', {
      at: { line: 5, col: 3 },
    }),
    invalid(c, 'constructor as a task id', wf('  constructor:\n    noop:\n'), 'RV110'),
    invalid(c, 'prototype as a task id', wf('  prototype:\n    noop:\n'), 'RV110'),
    invalid(
      c,
      'constructor as an input name',
      'name: corpus\ninputs:\n  constructor: { type: string }\ntasks:\n  a:\n    noop:\n',
      'RV110',
    ),
    invalid(
      c,
      '__proto__ as an input name',
      'name: corpus\ninputs:\n  __proto__: { type: string }\ntasks:\n  a:\n    noop:\n',
      'RV110',
    ),
    invalid(
      c,
      'prototype as a json body key',
      wf('  a:\n    http:\n      url: "https://h.test"\n      json: { prototype: { polluted: true } }\n'),
      'RV110',
    ),
    invalid(
      c,
      '__proto__ as a header name',
      wf('  a:\n    http:\n      url: "https://h.test"\n      headers: { __proto__: x }\n'),
      'RV110',
    ),
    invalid(
      c,
      'constructor as a header name',
      wf('  a:\n    http:\n      url: "https://h.test"\n      headers:\n        constructor: x\n'),
      'RV110',
    ),
    invalid(
      c,
      '__proto__ at the top level',
      '__proto__: { polluted: yes }\nname: corpus\ntasks:\n  a:\n    noop:\n',
      'RV110',
      { at: { line: 1, col: 1 } },
    ),
    invalid(
      c,
      'constructor.prototype nested',
      'name: corpus\ntasks:\n  a:\n    http: { url: "https://h.test", json: { constructor: { prototype: { polluted: 1 } } } }\n',
      'RV110',
      {
        check: count('RV110', 2),
      },
    ),
    invalid(c, 'a quoted "__proto__" key', wf('  a:\n    noop:\n  "__proto__":\n    noop:\n'), 'RV110'),
    invalid(c, 'an escaped \\x5f\\x5fproto__ key', wf('  a:\n    noop:\n  "\\x5f\\x5fproto__":\n    noop:\n'), 'RV110'),
    invalid(c, 'an explicit ? __proto__ key', wf('  a:\n    noop:\n  ? __proto__\n  : noop:\n'), 'RV110'),
    invalid(c, 'a !!str __proto__ key', wf('  a:\n    noop:\n  !!str __proto__:\n    noop:\n'), 'RV110'),
    invalid(
      c,
      '__proto__ in needs names no task',
      wf('  a:\n    noop:\n  b:\n    needs: [__proto__]\n    noop:\n'),
      'RV301',
    ),
    valid(
      c,
      '__proto__ inside a CEL map literal is only text here',
      wf('  a:\n    noop:\n    if: "${{ {\'__proto__\': 1}.__proto__ == 1 }}"\n'),
    ),
  ];
}

function typeConfusion(): CorpusCase[] {
  const c = 'type-confusion';
  const inputs = (def: string) => `name: corpus\ninputs:\n  i: ${def}\ntasks:\n  a:\n    noop:\n`;
  return [
    invalid(c, 'required: no', inputs('{ type: string, required: no }'), 'RV202', {
      hint: /YAML 1.2 reads no as text: write true or false/,
    }),
    invalid(c, 'required: on', inputs('{ type: string, required: on }'), 'RV202', {
      hint: /YAML 1.2 reads on as text/,
    }),
    invalid(c, 'required: Y', inputs('{ type: string, required: Y }'), 'RV202', { hint: /YAML 1.2 reads Y as text/ }),
    invalid(c, 'boolean default: off', inputs('{ type: boolean, default: off }'), 'RV210', {
      hint: /YAML 1.2 reads off as text/,
    }),
    invalid(c, 'jitter: yes', wf('  a:\n    noop:\n    retry: { attempts: 2, jitter: yes }\n'), 'RV202', {
      hint: /YAML 1.2 reads yes as text/,
    }),
    invalid(c, 'octal-looking name 0755', 'name: 0755\ntasks:\n  a:\n    noop:\n', 'RV202', {
      hint: /quote the value/,
    }),
    invalid(c, 'version 1.10 read as 1.1', 'name: corpus\ndescription: 1.10\ntasks:\n  a:\n    noop:\n', 'RV202', {
      message: /got 1\.1\b/,
    }),
    invalid(
      c,
      'hex-looking header value',
      wf('  a:\n    http: { url: "https://h.test", headers: { X-Code: 0x1F } }\n'),
      'RV202',
    ),
    valid(c, 'a quoted 0755 stays text', 'name: "0755"\ntasks:\n  a:\n    noop:\n'),
    valid(c, '!!str 0755 stays text', 'name: !!str 0755\ntasks:\n  a:\n    noop:\n'),
    valid(c, '!!int 5 is an integer', wf('  a:\n    noop:\n    for_each: [1]\n    concurrency: !!int 5\n')),
    invalid(
      c,
      '!!js/function',
      'name: corpus\ndescription: !!js/function "function () { return process.exit(1) }"\ntasks:\n  a:\n    noop:\n',
      'RV106',
      {
        at: { line: 2, col: 14 },
      },
    ),
    invalid(c, '!!js/undefined', 'name: corpus\ndescription: !!js/undefined ""\ntasks:\n  a:\n    noop:\n', 'RV106'),
    invalid(c, '!!js/regexp', 'name: corpus\ndescription: !!js/regexp /a+$/\ntasks:\n  a:\n    noop:\n', 'RV106'),
    invalid(c, '!!binary', 'name: corpus\ndescription: !!binary aGVsbG8=\ntasks:\n  a:\n    noop:\n', 'RV106'),
    invalid(
      c,
      '!!python/object/apply',
      'name: corpus\ndescription: !!python/object/apply:os.system ["id"]\ntasks:\n  a:\n    noop:\n',
      'RV106',
    ),
    invalid(
      c,
      'unknown local tag !custom',
      'name: corpus\ndescription: !custom value\ntasks:\n  a:\n    noop:\n',
      'RV106',
    ),
    invalid(c, 'a tag on a mapping', 'name: corpus\ntasks: !!set { a }\n', 'RV106'),
    invalid(c, '!!seq on a mapping', 'name: corpus\ntasks: !!seq {a: {noop: }}\n', 'RV106'),
    invalid(c, '!!int on text', wf('  a:\n    noop:\n    concurrency: !!int many\n'), 'RV106'),
  ];
}

export function handWrittenCases(): CorpusCase[] {
  return [
    ...malformedYaml(),
    ...schema(),
    ...graph(),
    ...references(),
    ...expressions(),
    ...size(),
    ...aliasBombs(),
    ...depth(),
    ...encoding(),
    ...prototypeKeys(),
    ...typeConfusion(),
  ];
}
