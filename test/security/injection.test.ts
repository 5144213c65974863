// Injection end to end (RELIABILITY.md 4.7): hostile run inputs, given through `--inputs-file` as
// JSON (so any value JSON can represent arrives), reach shell tasks in every position a value can
// take: a whole-word `${{ }}` in `run:`, `env`, `command:` argv elements and `cwd`. Each task
// writes what it received to $RIVET_OUTPUT as JSON (a node one-liner reading its environment,
// argv or working folder); the test compares that, byte for byte, with the payload, through the
// run's outputs in the `--json` events. Pass: every value identical, 0 canary files.
//
// Then expressions: input values holding `${{ }}` text stay literal (never evaluated twice), and
// string-keyed access to `__proto__`/`constructor`/`prototype` over inputs fails cleanly or yields
// only the input's own data, with Object.prototype and friends unchanged (checked in-process).
//
// What cannot arrive byte for byte, by the operating system's rules, is pinned down separately: a
// NUL byte (no environment variable or argument can hold one; the task fails cleanly) and a lone
// UTF-16 surrogate (not encodable as UTF-8; it arrives as U+FFFD).
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { ndjson, rivet, tempDir } from './helpers.ts';

const NODE = process.execPath;
/** Writes {a, v, w, argv, cwd} as seen by the process to $RIVET_OUTPUT. */
const WRITE = `require('fs').writeFileSync(process.env.RIVET_OUTPUT, JSON.stringify({ a: process.env.A, v: process.env.V, w: process.env.W, argv: process.argv.slice(1), cwd: process.cwd() }))`;

/** Shell payloads aimed at `touch <canary>/x`, plus quoting, options, globs, sizes and encodings. */
function shellPayloads(canary: string): string[] {
  const touch = `touch ${canary}/x`;
  const hand = [
    `"; ${touch} #`,
    `'; ${touch} #`,
    `$(${touch})`,
    `\`${touch}\``,
    `$(${touch})$(${touch})`,
    `\${IFS}${touch.replace(/ /g, '${IFS}')}`,
    `;${touch.replace(/ /g, '${IFS}')}`,
    `$IFS;$IFS${touch}`,
    `' ; ${touch} ; '`,
    `" ; ${touch} ; "`,
    `'"'"'; ${touch}; echo '"'"'`,
    `"'"'"'"; ${touch}; echo "'"'"'"`,
    `\\"; ${touch}; echo \\"`,
    `\\'; ${touch}; echo \\'`,
    `\n${touch}\n`,
    `\r\n${touch}\r\n`,
    `x\r${touch}`,
    `&& ${touch}`,
    `|| ${touch}`,
    `| ${touch}`,
    `; ${touch}`,
    `& ${touch} &`,
    `> ${canary}/x`,
    `>> ${canary}/x`,
    `2> ${canary}/x`,
    `< /etc/passwd`,
    `<(${touch})`,
    `>(${touch})`,
    `$(< /etc/hostname)`,
    `\${x:-$(${touch})}`,
    `\${x:=$(${touch})}`,
    `$((1+1))`,
    `$[1+1]`,
    `$'\\x41\\n'`,
    `$"translated"`,
    `!!`,
    `!$`,
    `!-1`,
    `^foo^bar`,
    `*`,
    `?`,
    `[a-z]*`,
    `/*`,
    `${canary}/*`,
    `**/*`,
    `{a,b}`,
    `{1..3}`,
    `~`,
    `~root`,
    `-n`,
    `-e`,
    `-E`,
    `--`,
    `-`,
    `--help`,
    `--version`,
    `-rf /`,
    `--output=${canary}/x`,
    `-c ${touch}`,
    `--eval=require('fs').writeFileSync('${canary}/x','')`,
    `-e require('fs').writeFileSync('${canary}/x','')`,
    `$0`,
    `$@`,
    `$*`,
    `$$`,
    `$?`,
    `$#`,
    `$1`,
    `$RIVET_OUTPUT`,
    `\${RIVET_OUTPUT}`,
    `$V`,
    `"$V"`,
    `$HOME`,
    `#`,
    `# ${touch}`,
    `a#b`,
    `\\`,
    `x\\`,
    `\\\\`,
    `'`,
    `"`,
    `''`,
    `""`,
    `"'`,
    `'"`,
    `\`\``,
    ``,
    ` `,
    `   `,
    `\t`,
    `a\tb`,
    `\v\f`,
    `\n`,
    `\r`,
    `\r\n`,
    `line1\nline2\nline3`,
    `trailing newline\n`,
    `eval ${touch}`,
    `exec ${touch}`,
    `x=1 ${touch}`,
    `export X=$(${touch})`,
    `() { :; }; ${touch}`,
    `%s%s%s%n`,
    `%(x)s {x} {{x}}`,
    `\u202e${touch}`,
    `\u200b\u200c\u200d\ufeff`,
    `日本語のテキスト`,
    `emoji 🚀🔥 and ZWJ 👩‍💻`,
    `ünïcödé ß Ω ж ع`,
    `\u00a0non-breaking\u00a0space`,
    `\x1b[2J\x1b]0;title\x07`,
    `\x7f\u0085\u009b`,
    `\u2028\u2029`,
    // Template text in data: must arrive literally, never be evaluated again.
    '${{ secrets.X }}',
    '${{ 1+1 }}',
    '${{ inputs.payloads }}',
    '$${{ 1+1 }}',
    '${{',
    '}}',
    '${{ item }}',
    "${{ 'a' + 'b' }}",
    '{{ 1+1 }}',
    '${1+1}',
    'x${{ secrets.X }}y',
    // Very long values.
    'A'.repeat(100_000),
    `${'B'.repeat(50_000)}$(${touch})`,
    `$(${touch})`.repeat(500),
    `'`.repeat(1000),
    `"`.repeat(1000),
    '\\'.repeat(1001),
    'é'.repeat(20_000),
  ];
  // Breakouts combined: a way out of whatever quoting, a command, and a tail swallowing the rest.
  const openers = ['', "'", '"', '`', '\\', ')', '\n', "';", '$('];
  const commands = [`; ${touch}`, `$(${touch})`, `\`${touch}\``, `&& ${touch}`, `| ${touch}`, `\n${touch}`];
  const tails = ['', ' #'];
  const combos: string[] = [];
  for (const o of openers) for (const c of commands) for (const t of tails) combos.push(`${o}${c}${t}`);
  return [...new Set([...hand, ...combos])];
}

/** The payloads usable as a folder below `base`: no NUL, names within NAME_MAX, staying below base. */
function cwdPayloads(payloads: readonly string[], base: string): string[] {
  return payloads.filter((p) => {
    const full = resolve(`${base}/${p}`);
    if (!full.startsWith(`${base}${sep}`) && full !== base) return false;
    return full.split(sep).every((c) => Buffer.byteLength(c) <= 255) && Buffer.byteLength(full) < 4000;
  });
}

function workflow(): unknown {
  const common = { env: { NODE, WRITE } };
  return {
    name: 'injection',
    inputs: {
      payloads: { type: 'list', required: true },
      cwd_payloads: { type: 'list', required: true },
      base: { type: 'string', required: true },
      tmpl: { type: 'string', required: true },
    },
    tasks: {
      // One script gets the value twice: as a whole word of `run` and in `env` (alone and in text).
      by_run: {
        for_each: '${{ inputs.payloads }}',
        shell: {
          run: 'set -- ${{ item }}\nA="$1" "$NODE" -e "$WRITE"',
          env: { ...common.env, V: '${{ item }}', W: '[${{ item }}]' },
        },
        outputs: { a: '${{ result.a }}', v: '${{ result.v }}', w: '${{ result.w }}' },
      },
      by_argv: {
        for_each: '${{ inputs.payloads }}',
        shell: { command: [NODE, '-e', WRITE, '--', '${{ item }}'] },
        outputs: { argv: '${{ result.argv }}' },
      },
      by_cwd: {
        for_each: '${{ inputs.cwd_payloads }}',
        shell: { command: [NODE, '-e', WRITE], cwd: '${{ inputs.base }}/${{ item }}' },
        outputs: { cwd: '${{ result.cwd }}' },
      },
    },
    outputs: {
      run: '${{ tasks.by_run.outputs }}',
      argv: '${{ tasks.by_argv.outputs }}',
      cwd: '${{ tasks.by_cwd.outputs }}',
      interpolated: 'pre-${{ inputs.tmpl }}-post',
      whole: '${{ inputs.tmpl }}',
    },
  };
}

test(
  'shell payloads arrive byte for byte in run, env, command and cwd; 0 canary files',
  { timeout: 60_000 },
  async (t) => {
    const dir = realpathSync(tempDir('rivet-injection-'));
    const canary = join(dir, 'canary');
    const base = join(dir, 'cwd');
    mkdirSync(canary);
    mkdirSync(base);
    const payloads = shellPayloads(canary);
    const cwds = cwdPayloads(payloads, base);
    for (const p of cwds) mkdirSync(resolve(`${base}/${p}`), { recursive: true });
    assert.ok(payloads.length >= 200, `${payloads.length} payloads`);

    const file = join(dir, 'injection.yaml');
    writeFileSync(file, JSON.stringify(workflow(), null, 2));
    const inputsFile = join(dir, 'inputs.json');
    const tmpl = '${{ 1+1 }} ${{ secrets.X }}';
    writeFileSync(inputsFile, JSON.stringify({ payloads, cwd_payloads: cwds, base, tmpl }));
    const r = await rivet(
      ['run', file, '--inputs-file', inputsFile, '--home', join(dir, 'home'), '--json', '--concurrency', '16'],
      { env: { RIVET_SECRET_X: 'not-to-be-seen-4711' } },
    );
    const events = ndjson(r.stdout);
    const failed = events.filter((e) => e.type === 'task.failed');
    assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 5), null, 1));
    assert.equal(r.code, 0, r.stderr);
    const outputs = (events.find((e) => e.type === 'cli.finished') as { outputs: Record<string, unknown> }).outputs;
    const run = outputs.run as { a: string; v: string; w: string }[];
    const argv = outputs.argv as { argv: string[] }[];
    const cwd = outputs.cwd as { cwd: string }[];

    let compared = 0;
    const mismatches: string[] = [];
    const check = (what: string, i: number, got: unknown, want: unknown): void => {
      compared++;
      if (JSON.stringify(got) !== JSON.stringify(want))
        mismatches.push(
          `${what}[${i}]: got ${JSON.stringify(got)?.slice(0, 120)} want ${JSON.stringify(want).slice(0, 120)}`,
        );
    };
    payloads.forEach((p, i) => {
      check('run word', i, run[i]?.a, p);
      check('env', i, run[i]?.v, p);
      check('env inside text', i, run[i]?.w, `[${p}]`);
      check('command argv', i, argv[i]?.argv, [p]);
    });
    cwds.forEach((p, i) => check('cwd', i, cwd[i]?.cwd, resolve(`${base}/${p}`)));
    assert.deepEqual(mismatches, [], `${mismatches.length} values changed on the way`);
    assert.equal(outputs.interpolated, `pre-${tmpl}-post`, 'template text inside an input is never evaluated');
    assert.equal(outputs.whole, tmpl);
    assert.doesNotMatch(r.stdout, /not-to-be-seen-4711/);

    const created = readdirSync(canary);
    assert.deepEqual(created, [], 'no payload ran a command');
    t.diagnostic(
      `${payloads.length} payloads (${cwds.length} usable as folders) × 5 positions: ${compared} values compared byte for byte, ` +
        `0 changed, ${created.length} canary files`,
    );
  },
);

test('what no process can receive: NUL fails the task cleanly; a lone surrogate arrives as U+FFFD', async () => {
  const dir = realpathSync(tempDir('rivet-injection-odd-'));
  const canary = join(dir, 'canary');
  mkdirSync(canary);
  const file = join(dir, 'odd.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'odd',
      inputs: { v: { type: 'string', required: true } },
      tasks: {
        by_env: { shell: { run: '"$NODE" -e "$WRITE"', env: { NODE, WRITE, V: '${{ inputs.v }}' } } },
        by_argv: { shell: { command: [NODE, '-e', WRITE, '--', '${{ inputs.v }}'] } },
      },
    }),
  );
  const run = async (v: string) => {
    const inputs = join(dir, `inputs-${Math.random()}.json`);
    writeFileSync(inputs, JSON.stringify({ v }));
    const r = await rivet(['run', file, '--inputs-file', inputs, '--home', join(dir, 'home'), '--json']);
    return { r, events: ndjson(r.stdout) };
  };
  const nul = await run(`a\u0000; touch ${canary}/x`);
  assert.equal(nul.r.code, 1);
  const errors = nul.events.filter((e) => e.type === 'task.failed').map((e) => JSON.stringify(e.data));
  assert.equal(errors.length, 2);
  for (const e of errors) assert.match(e, /a value holds a NUL byte or is invalid/);
  const lone = await run('x\ud800y');
  assert.equal(lone.r.code, 0, lone.r.stdout + lone.r.stderr);
  const done = lone.events.filter((e) => e.type === 'task.succeeded') as unknown as {
    task: string;
    data: { outputs: { v?: string; argv?: string[] } };
  }[];
  assert.equal(done.find((e) => e.task === 'by_env')!.data.outputs.v, 'x\ufffdy');
  assert.deepEqual(done.find((e) => e.task === 'by_argv')!.data.outputs.argv, ['x\ufffdy']);
  assert.deepEqual(readdirSync(canary), []);
});

/** Own property names of the built-in prototypes an escape would touch. */
function prototypes(): string {
  const names = (o: object): string[] =>
    [...Object.getOwnPropertyNames(o), ...Object.getOwnPropertySymbols(o).map(String)].sort();
  return JSON.stringify([Object.prototype, Function.prototype, Array.prototype, String.prototype].map(names));
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

test('prototype keys over inputs fail cleanly or give only own data; prototypes unchanged', async (t) => {
  const dir = tempDir('rivet-injection-proto-');
  // Own keys named like prototype members, as JSON (and YAML) can spell them.
  const inputsText =
    '{"obj": {"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted2": "yes"}}, "a": 1},' +
    ' "plain": {"a": 1}, "list": [{"a": 1}, "s"], "key": "__proto__", "ckey": "constructor"}';
  writeFileSync(join(dir, 'inputs.json'), inputsText);
  const own = JSON.parse(inputsText) as Record<string, unknown>;
  const probes: Record<string, string> = {
    inputs_runtime_key: '${{ inputs[inputs.key] }}',
    inputs_runtime_ckey: '${{ inputs[inputs.ckey] }}',
    plain_proto: '${{ inputs.plain["__proto__"] }}',
    plain_constructor: '${{ inputs.plain["constructor"] }}',
    plain_built_key: '${{ inputs.plain["con" + "structor"] }}',
    plain_runtime_key: '${{ inputs.plain[inputs.ckey] }}',
    plain_dot_proto: '${{ inputs.plain.__proto__ }}',
    plain_prototype: '${{ inputs.plain.prototype }}',
    plain_valueof: '${{ inputs.plain["valueOf"] }}',
    obj_proto: '${{ inputs.obj["__proto__"] }}',
    obj_runtime_key: '${{ inputs.obj[inputs.key] }}',
    obj_constructor: '${{ inputs.obj["constructor"] }}',
    obj_constructor_prototype: '${{ inputs.obj["constructor"]["prototype"] }}',
    obj_polluted: '${{ inputs.plain.polluted }}',
    has_polluted: '${{ has(inputs.plain.polluted) }}',
    list_constructor: '${{ inputs.list[0]["constructor"] }}',
    list_map: '${{ [inputs.list[0]].map(x, x["constructor"]) }}',
    string_constructor: '${{ inputs.list[1]["constructor"] }}',
    dyn_proto: '${{ dyn(inputs.plain)["__proto__"] }}',
  };
  const inputs = {
    obj: { type: 'object' },
    plain: { type: 'object' },
    list: { type: 'list' },
    key: { type: 'string' },
    ckey: { type: 'string' },
  };
  const before = prototypes();
  const rivetHere = async (name: string, tasks: Record<string, unknown>) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, JSON.stringify({ name, inputs, tasks }));
    const stdout = new Capture();
    const stderr = new Capture();
    const argv = ['run', file, '--inputs-file', join(dir, 'inputs.json'), '--home', join(dir, 'home'), '--json'];
    const code = await main(argv, { stdout, stderr });
    return { code, stdout: stdout.text, stderr: stderr.text };
  };

  // A constant key on `inputs` itself is checked before anything runs: refused, file:line:col.
  const statically = await rivetHere('proto_static', {
    a: { noop: {}, outputs: { v: '${{ inputs["__proto__"] }}' } },
    b: { noop: {}, outputs: { v: '${{ inputs["constructor"] }}' } },
    c: { noop: {}, outputs: { v: '${{ inputs["toString"] }}' } },
  });
  assert.equal(statically.code, 2, statically.stderr);
  assert.equal(statically.stderr.match(/error RV403 unknown input "(__proto__|constructor|toString)"/g)?.length, 3);

  const tasks: Record<string, unknown> = {};
  for (const [id, expr] of Object.entries(probes)) tasks[id] = { noop: {}, outputs: { v: expr } };
  const { code, stdout, stderr } = await rivetHere('proto', tasks);
  assert.equal(prototypes(), before, 'Object/Function/Array/String prototypes unchanged');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.ok(code === 0 || code === 1, stderr);
  const events = ndjson(stdout);
  // The input data as given: the only values an expression over it may return.
  const allowed = new Set<string>();
  const collect = (v: unknown): void => {
    allowed.add(JSON.stringify(v));
    if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) collect(x);
  };
  collect(own);
  for (const k of Object.keys(own.obj as object)) allowed.add(JSON.stringify(k));
  allowed.add(JSON.stringify(Object.keys(own.obj as object)));
  allowed.add('false');
  allowed.add('[]');
  let failedCleanly = 0;
  for (const id of Object.keys(probes)) {
    const ended = events.find((e) => e.task === id && (e.type === 'task.succeeded' || e.type === 'task.failed'));
    assert.ok(ended, `${id} ended`);
    if (ended.type === 'task.failed') {
      const error = (ended.data as { error: { reason: string; message: string } }).error;
      assert.equal(error.reason, 'expression', `${id}: ${error.message}`);
      failedCleanly++;
      continue;
    }
    const v = (ended.data as { outputs: { v: unknown } }).outputs.v;
    t.diagnostic(`${id} → ${JSON.stringify(v)}`);
    assert.ok(allowed.has(JSON.stringify(v)), `${id} returned ${JSON.stringify(v)}, which is not the input's own data`);
  }
  assert.ok(failedCleanly >= Object.keys(probes).length / 2, `${failedCleanly} probes failed cleanly`);
  t.diagnostic(
    `${Object.keys(probes).length + 3} prototype-key probes: 3 refused by validation, ${failedCleanly} failed cleanly, ` +
      `${Object.keys(probes).length - failedCleanly} returned the input's own data; prototypes unchanged`,
  );
});
