// Secret redaction end to end (RELIABILITY.md 4.8): canaries generated for this test run are used
// everywhere a workflow author might put a secret, the workflows run through the real `rivet`
// command (line output, --json, --dry-run, runs show/logs/list), and every sink is then scanned
// byte by byte for every form of every canary. Pass: 0 occurrences.
//
// Policies this file pins down:
// - Minimum length: a secret of 4 characters or more is masked; a shorter one is not (it would
//   mask ordinary words everywhere) and `rivet run` warns about it by name.
// - Artifacts: the CONTENT of a file a task writes into $RIVET_ARTIFACTS, and the names of the files
//   it creates there, are the user's data: Rivet keeps them as written (a task that writes a token
//   to an artifact gets that token back). Everything Rivet itself records about artifacts (the
//   name → path map in events, the cache table, CLI output) and every folder Rivet names
//   (artifacts/<workflow>/<run>/<task>) holds no secret: names are masked like any other text, so
//   a file named after a secret is listed as `report-***.txt`.
// - Secrets reach processes through the environment only, never their command line (the process
//   table is sampled while the tasks run). A secret the author puts into `command:` argv is the
//   author's choice and is not exercised here.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type Canary,
  canaryForms,
  checkpoint,
  type CliResult,
  components,
  describeHits,
  summarizeHits,
  filesUnder,
  ndjson,
  pathsUnder,
  rivet,
  sampleCommandLines,
  scan,
  snapshotFile,
  type Sink,
  tableSinks,
  tempDir,
  textSink,
} from './helpers.ts';

const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
function random(n: number): string {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += ALNUM[b % ALNUM.length];
  return s;
}

/** The canaries of this test run; every one is unique to it. */
function makeSecrets(port: number) {
  const pemLines = [random(64), random(64), random(40)];
  const json = { user: `svc-${random(6)}`, password: random(20), token: `jt_${random(24)}` };
  const urlPassword = random(18);
  const values = {
    LONG: `rvt_${random(48)}`,
    // Two fixed rare characters keep a 4-character value from turning up in ordinary text by chance.
    SHORT: `${random(1)}^${random(1)}~`,
    SPECIAL: `${random(6)}'"$\`\\;&|<>"'${random(6)}`,
    PEM: `-----BEGIN PRIVATE KEY-----\n${pemLines.join('\n')}\n-----END PRIVATE KEY-----`,
    JSONSEC: JSON.stringify(json),
    URLSEC: `http://svc:${urlPassword}@127.0.0.1:${port}/hook`,
    TINY: `${random(1)}@${random(1)}`,
    /** Not a deployment secret: a run input declared `secret: true`. */
    PIN: `pin-${random(20)}`,
  };
  const canaries: Canary[] = [
    { name: 'LONG', value: values.LONG },
    { name: 'SHORT', value: values.SHORT },
    { name: 'SPECIAL', value: values.SPECIAL },
    { name: 'PEM', value: values.PEM },
    ...pemLines.map((l, i) => ({ name: `PEM line ${i + 1}`, value: l })),
    { name: 'JSONSEC', value: values.JSONSEC },
    { name: 'JSONSEC.password', value: json.password },
    { name: 'JSONSEC.token', value: json.token },
    { name: 'URLSEC', value: values.URLSEC },
    { name: 'URLSEC password', value: urlPassword },
    { name: 'secret input', value: values.PIN },
  ];
  return { values, canaries };
}

const SECRET_ENV = {
  LONG: '${{ secrets.LONG }}',
  SHORT: '${{ secrets.SHORT }}',
  SPECIAL: '${{ secrets.SPECIAL }}',
  PEM: '${{ secrets.PEM }}',
  JSONSEC: '${{ secrets.JSONSEC }}',
  URLSEC: '${{ secrets.URLSEC }}',
  TINY: '${{ secrets.TINY }}',
};

/**
 * Prints every form of every secret it gets in its environment, one per line. (A value the script
 * transforms itself, say base64 of "user:" + secret, is beyond any redactor and is not printed.)
 */
const PRINT_FORMS = `
const names = ['LONG', 'SHORT', 'SPECIAL', 'PEM', 'JSONSEC', 'URLSEC'];
const values = names.map((n) => process.env[n]);
const j = JSON.parse(process.env.JSONSEC);
values.push(j.password, j.token, new URL(process.env.URLSEC).password, ...process.env.PEM.split('\\n'));
for (const v of values) {
  const b = Buffer.from(v);
  for (const f of [v, b.toString('base64'), b.toString('base64url'), encodeURIComponent(v), JSON.stringify(v)])
    console.log('form ' + f);
}
`;

/** A workflow that succeeds and hands secrets to every place that takes a value. */
function okWorkflow(): unknown {
  return {
    name: 'leaky_ok',
    inputs: { pin: { type: 'string', secret: true, required: true } },
    tasks: {
      env_echo: {
        shell: {
          run: [
            'echo "long=$LONG"',
            'echo "short=$SHORT"',
            'echo "special=$SPECIAL"',
            'printf \'%s\\n\' "$PEM"',
            'echo "json=$JSONSEC"',
            'echo "url=$URLSEC"',
            'echo "tiny=$TINY"',
            'echo "pin=$PIN"',
            'sleep 0.5',
            'true', // not last: bash would exec sleep, and its own command line would be gone
          ].join('\n'),
          env: { ...SECRET_ENV, PIN: '${{ inputs.pin }}' },
        },
      },
      forms: {
        shell: { command: ['node', '-e', PRINT_FORMS], env: SECRET_ENV },
      },
      word_run: {
        shell: {
          run: [
            'echo ${{ secrets.LONG }}',
            'echo ${{ secrets.SPECIAL }}',
            'printf \'tok=%s\\n\' ${{ secrets.LONG }} >> "$RIVET_OUTPUT"',
            'printf \'special=%s\\n\' ${{ secrets.SPECIAL }} >> "$RIVET_OUTPUT"',
            'printf \'pem<<PEM_END\\n%s\\nPEM_END\\n\' ${{ secrets.PEM }} >> "$RIVET_OUTPUT"',
            'printf \'%s\' ${{ secrets.LONG }} > "$RIVET_ARTIFACTS/token.txt"',
            'printf \'%s\' ${{ secrets.PEM }} > "$RIVET_ARTIFACTS/key.pem"',
            'printf x > "$RIVET_ARTIFACTS/report-$NAME.txt"',
            'sleep 0.5',
            'true', // not last: bash would exec sleep, and its own command line would be gone
          ].join('\n'),
          env: { NAME: '${{ secrets.LONG }}' },
        },
        outputs: {
          tok: '${{ result.tok }}',
          special: '${{ result.special }}',
          pem: '${{ result.pem }}',
          direct: '${{ secrets.LONG }}',
          short: '${{ secrets.SHORT }}',
          pin: '${{ inputs.pin }}',
          json: '${{ secrets.JSONSEC }}',
          list: '${{ [secrets.URLSEC, secrets.SPECIAL] }}',
        },
      },
      dynamic_outputs: {
        shell: {
          run: 'node -e \'require("fs").writeFileSync(process.env.RIVET_OUTPUT, JSON.stringify({ j: JSON.parse(process.env.J), u: process.env.U }))\'',
          env: { J: '${{ secrets.JSONSEC }}', U: '${{ secrets.URLSEC }}' },
        },
      },
      skipped_by_if: { if: '${{ secrets.LONG }}', noop: {} },
      fan_out: { for_each: '${{ [secrets.LONG, secrets.SPECIAL, secrets.SHORT] }}', noop: {} },
      reads_artifacts: {
        needs: ['word_run'],
        shell: { run: 'echo ${{ tasks.word_run.artifacts }}' },
      },
    },
    outputs: {
      leak: '${{ secrets.LONG }}',
      pin: '${{ inputs.pin }}',
      from_task: '${{ tasks.word_run.outputs.tok }}',
      special: '${{ tasks.word_run.outputs.special }}',
      json: '${{ secrets.JSONSEC }}',
      url: '${{ secrets.URLSEC }}',
      pem: '${{ secrets.PEM }}',
      artifacts: '${{ tasks.word_run.artifacts }}',
    },
  };
}

/** A workflow whose tasks fail in every way that puts a value into an error message. */
function failWorkflow(): unknown {
  const echo = '${{ vars.echo }}';
  return {
    name: 'leaky_fail',
    tasks: {
      http_bearer: {
        http: {
          url: `${echo}/bearer`,
          query: { key: '${{ secrets.SHORT }}', sig: '${{ secrets.SPECIAL }}' },
          auth: { bearer: '${{ secrets.LONG }}' },
          headers: { 'X-Api-Key': '${{ secrets.SHORT }}', 'X-Trace': '${{ secrets.JSONSEC }}' },
        },
      },
      http_basic: {
        http: {
          method: 'POST',
          url: `${echo}/basic`,
          auth: { basic: { username: 'svc', password: '${{ secrets.SPECIAL }}' } },
          json: { token: '${{ secrets.LONG }}' },
        },
      },
      http_url: { http: { url: '${{ secrets.URLSEC }}' } },
      assert_value: {
        shell: { run: 'printf \'tok=%s\\n\' ${{ secrets.LONG }} > "$RIVET_OUTPUT"' },
        assert: ["${{ duration(result.tok) > duration('1s') }}"],
      },
      assert_false: {
        shell: { run: 'printf \'tok=%s\\n\' ${{ secrets.SPECIAL }} > "$RIVET_OUTPUT"' },
        assert: ["${{ result.tok == 'nope' }}"],
      },
      exit_code: { shell: { run: 'echo "boom $LONG" >&2; sleep 0.3; exit 3', env: { LONG: '${{ secrets.LONG }}' } } },
      exit_pem: { shell: { run: 'printf \'%s\\n\' "$PEM" >&2; exit 1', env: { PEM: '${{ secrets.PEM }}' } } },
      missing_cwd: { shell: { run: 'true', cwd: '/nonexistent/${{ secrets.LONG }}' } },
      bad_expression: { shell: { run: 'true', env: { X: '${{ {secrets.SPECIAL: 1}[secrets.LONG] }}' } } },
      bad_duration: { shell: { run: 'true', env: { X: "${{ duration(secrets.URLSEC) > duration('1s') }}" } } },
    },
    outputs: { leak: '${{ secrets.PEM }}', special: '${{ secrets.SPECIAL }}' },
  };
}

/** Answers every request with 500 and a JSON body echoing the method, URL, headers and body. */
async function echoServer(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

test('no form of any secret reaches any sink (RELIABILITY 4.8)', { timeout: 60_000 }, async (t) => {
  const server = await echoServer();
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const { values, canaries } = makeSecrets(port);

  const dir = tempDir('rivet-redaction-');
  const home = join(dir, 'home');
  const okFile = join(dir, 'leaky_ok.yaml');
  const failFile = join(dir, 'leaky_fail.yaml');
  writeFileSync(okFile, JSON.stringify(okWorkflow(), null, 2));
  writeFileSync(failFile, JSON.stringify(failWorkflow(), null, 2));
  // Secrets from both sources: a file (outside the data folder) and RIVET_SECRET_<NAME>.
  const { LONG, PIN, ...fromFile } = values;
  const secretsFile = join(dir, 'secrets.json');
  writeFileSync(secretsFile, JSON.stringify({ ...fromFile, JSONSEC: JSON.parse(values.JSONSEC) }));
  // The secret input comes from a file too: on the command line it would show in the process table.
  const inputsFile = join(dir, 'inputs.json');
  writeFileSync(inputsFile, JSON.stringify({ pin: PIN }));
  const env = { RIVET_SECRET_LONG: LONG };
  const common = ['--home', home, '--secrets-file', secretsFile, '--var', `echo=http://127.0.0.1:${port}`];

  // ---- the runs, with the process table sampled while they execute
  const sampler = sampleCommandLines();
  const wal = snapshotFile(join(home, 'rivet.db-wal'));
  const runs = await Promise.all([
    rivet(['run', okFile, '--inputs-file', inputsFile, ...common, '--json'], { env }),
    rivet(['run', okFile, '--inputs-file', inputsFile, ...common], { env }),
    rivet(['run', failFile, ...common, '--json'], { env }),
    rivet(['run', failFile, ...common], { env }),
  ]);
  const cmdlines = sampler.stop();
  const walCopies = wal.stop();
  const [okJson, okLines, failJson, failLines] = runs as [CliResult, CliResult, CliResult, CliResult];
  assert.equal(okJson.code, 0, okJson.stdout + okJson.stderr);
  assert.equal(okLines.code, 0, okLines.stdout + okLines.stderr);
  assert.equal(failJson.code, 1, failJson.stdout + failJson.stderr);
  assert.equal(failLines.code, 1, failLines.stdout + failLines.stderr);

  // ---- dry runs (plain and --json)
  const dry = await Promise.all([
    rivet(['run', okFile, '--inputs-file', inputsFile, ...common, '--dry-run'], { env }),
    rivet(['run', okFile, '--inputs-file', inputsFile, ...common, '--dry-run', '--json'], { env }),
    rivet(['run', failFile, ...common, '--dry-run'], { env }),
    rivet(['run', failFile, ...common, '--dry-run', '--json'], { env }),
  ]);
  for (const d of dry) assert.equal(d.code, 0, `${d.args.join(' ')}\n${d.stdout}${d.stderr}`);

  // ---- reading the runs back
  const ids = runs.map((r) => {
    const m = /"cli\.started","run":"([a-z0-9]+)"/.exec(r.stdout) ?? /run ([a-z0-9]+) started/.exec(r.stdout);
    assert.ok(m, `no run id in ${r.stdout}`);
    return m[1]!;
  });
  const reads: CliResult[] = [await rivet(['runs', 'list', '--json', '--home', home])];
  for (const id of ids) {
    reads.push(
      ...(await Promise.all([
        rivet(['runs', 'show', id, '--json', '--home', home]),
        rivet(['runs', 'show', id, '--home', home]),
        rivet(['runs', 'logs', id, '--home', home]),
        rivet(['runs', 'logs', id, '--json', '--home', home]),
      ])),
    );
  }
  for (const r of reads) assert.equal(r.code, 0, `${r.args.join(' ')}\n${r.stdout}${r.stderr}`);

  // ---- the runs did what they were meant to (so the scan below looks at real traffic)
  const events = ndjson(okJson.stdout);
  const finished = events.find((e) => e.type === 'cli.finished') as { outputs: Record<string, unknown> };
  assert.equal(finished.outputs.leak, '***');
  assert.equal(finished.outputs.pin, '***');
  assert.equal(finished.outputs.from_task, '***');
  const logLines = events.filter((e) => e.type === 'log').map((e) => String(e.line));
  assert.ok(logLines.includes('long=***'), 'the env secret was echoed (and masked)');
  assert.ok(logLines.includes('pin=***'), 'a secret input is masked like a secret');
  assert.ok(logLines.includes('short=***'), 'a 4-character secret is masked');
  assert.ok(logLines.filter((l) => l === 'form ***').length >= 40, 'every printed form was masked');
  assert.ok(
    logLines.includes(`tiny=${values.TINY}`),
    'a 3-character secret is not masked (the minimum length is 4): this documents the policy',
  );
  for (const out of [okJson.stdout, okLines.stderr, failJson.stdout, failLines.stderr]) {
    assert.match(out, /secret TINY is shorter than 4 characters and cannot be masked/);
  }
  for (const d of dry) assert.match(d.stderr, /secret TINY is shorter than 4 characters/);
  const failEvents = ndjson(failJson.stdout);
  const failed = failEvents.filter((e) => e.type === 'task.failed').map((e) => String(e.task));
  assert.deepEqual(
    failed.sort(),
    [
      'assert_false',
      'assert_value',
      'bad_duration',
      'bad_expression',
      'exit_code',
      'exit_pem',
      'http_basic',
      'http_bearer',
      'http_url',
      'missing_cwd',
    ],
    'every task of leaky_fail fails',
  );
  const httpErrors = failEvents
    .filter((e) => e.type === 'task.failed' && String(e.task).startsWith('http_'))
    .map((e) => JSON.stringify(e.data));
  for (const m of httpErrors) assert.match(m, /HTTP 500/, 'the error body (with the echoed headers) was read');

  // Artifacts (policy above): the task's own file keeps its content; Rivet's records are masked.
  const okEvents = events;
  const wordRun = okEvents.find((e) => e.type === 'task.succeeded' && e.task === 'word_run') as {
    data: { artifacts: Record<string, string> };
  };
  const artifactNames = Object.keys(wordRun.data.artifacts).sort();
  assert.deepEqual(artifactNames, ['key.pem', 'report-***.txt', 'token.txt']);
  const tokenFile = wordRun.data.artifacts['token.txt']!;
  assert.equal(readFileSync(tokenFile, 'utf8'), values.LONG, "an artifact's content is the task's own data");

  // ---- the process table: secrets go through the environment, never the command line
  assert.ok(
    [...cmdlines].some((c) => c.includes('-c -- echo "$RIVET_ARG_0"')),
    `the sampler saw the shell tasks run (${cmdlines.size} command lines)`,
  );
  assert.ok([...cmdlines].some((c) => c.includes('sleep 0.5')));

  // ---- every sink
  const sinks: Sink[] = [];
  for (const r of [...runs, ...dry, ...reads]) {
    sinks.push(textSink(`stdout of rivet ${r.args.join(' ')}`, r.stdout));
    sinks.push(textSink(`stderr of rivet ${r.args.join(' ')}`, r.stderr));
  }
  sinks.push(textSink('process command lines', [...cmdlines].join('\n')));
  const artifactFile = (path: string): boolean => components(path)[0] === 'artifacts' && components(path).length > 4;
  const homeFiles = (when: string): Sink[] =>
    filesUnder(home)
      .filter((f) => !artifactFile(f.path))
      .map((f) => ({ name: `${when} ${f.path}`, bytes: f.bytes }));
  const before = homeFiles('home file (before checkpoint)');
  const db = join(home, 'rivet.db');
  checkpoint(db);
  const after = homeFiles('home file (after checkpoint)');
  sinks.push(...before, ...after);
  assert.ok(walCopies.length > 0, 'the -wal file was copied while the runs wrote it');
  sinks.push(...walCopies.map((bytes, i) => ({ name: `rivet.db-wal copy ${i + 1} (during the runs)`, bytes })));
  assert.ok(before.length + after.length >= 2 && existsSync(db));
  // Rivet names artifacts/<workflow>/<run>/<task>; below that the names are the task's.
  const paths = pathsUnder(home).map((p) =>
    components(p)
      .slice(0, artifactFile(p) ? 4 : undefined)
      .join('/'),
  );
  sinks.push(textSink('paths under RIVET_HOME', paths.join('\n')));
  const tables = tableSinks(db);
  sinks.push(...tables.sinks);
  assert.ok(tables.rows > 50, `the store holds the runs (${tables.rows} rows)`);

  const hits = scan(sinks, canaries);
  const forms = canaryForms('x').size + 1; // + "inside base64"
  t.diagnostic(
    `${canaries.length} canaries × ${forms} forms scanned in ${sinks.length} sinks ` +
      `(${sinks.reduce((n, s) => n + s.bytes.length, 0)} bytes; ${tables.tables.length} tables, ${tables.rows} rows; ` +
      `${cmdlines.size} distinct command lines): ${hits.length} occurrences`,
  );
  assert.equal(hits.length, 0, `secrets found:\n${summarizeHits(hits)}\n${describeHits(hits, 8)}`);
});
