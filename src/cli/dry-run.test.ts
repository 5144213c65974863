/**
 * `rivet run --dry-run`: the plan on a real local store in a temporary RIVET_HOME. Decidable and
 * undecidable `if:`, for_each over inputs, resolved fields with `<after tasks.x>` placeholders,
 * cache hits (and --force), secrets masked in every form, and nothing written to the store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { WorkflowSource } from '../engine/types.ts';
import { validateWorkflowText } from '../model/index.ts';
import { type DryRunArgs, dryRun } from './dry-run.ts';
import { type Local, openLocal } from './local.ts';

const CANARY = `tok-${Math.random().toString(36).slice(2)}-${Date.now()}-s3cr3t`;
const CANARY_B64 = Buffer.from(CANARY).toString('base64');
const homes: string[] = [];

after(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const WORKFLOW = `
name: release
inputs:
  env: { type: string, default: staging }
  regions: { type: list, default: [eu-west-1, us-east-1, ap-south-1, sa-east-1] }
  password: { type: string, secret: true, default: hunter2-long-password }
tasks:
  build:
    cache:
      key: build-\${{ inputs.env }}-v1
    shell:
      command: [make, "\${{ inputs.env }}"]
      env:
        TOKEN: \${{ secrets.TOKEN }}
        ENCODED: \${{ bytes(secrets.TOKEN).base64() }}
        BEARER: Bearer \${{ secrets.TOKEN }}
        PASS: \${{ inputs.password }}
  prod_only:
    if: \${{ inputs.env == "prod" }}
    noop: {}
  staging_only:
    if: \${{ inputs.env == "staging" }}
    noop: {}
  after_prod:
    needs: prod_only
    noop: {}
  deploy:
    needs: build
    for_each: \${{ inputs.regions }}
    http:
      method: POST
      url: https://\${{ item }}.deploy.example.test/\${{ tasks.build.outputs.artifact }}?env=\${{ inputs.env }}
  verify:
    needs: deploy
    if: \${{ tasks.deploy.status == "succeeded" }}
    http:
      url: https://verify.example.test/\${{ inputs.env }}
`;

class Sink extends Writable {
  readonly chunks: string[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
  get text(): string {
    return this.chunks.join('');
  }
}

async function setup(): Promise<{ local: Local; source: WorkflowSource }> {
  const home = mkdtempSync(join(tmpdir(), 'rivet-dry-'));
  homes.push(home);
  const local = await openLocal({ home }, { RIVET_SECRET_TOKEN: CANARY, HOME: '/home/tester' });
  const checked = validateWorkflowText(WORKFLOW);
  assert.ok(checked.workflow, JSON.stringify(checked.diagnostics));
  return {
    local,
    source: { workflow: checked.workflow, version: 'v1-abcdef', file: '/tmp/release.yaml', source: WORKFLOW },
  };
}

async function plan(
  over: Partial<DryRunArgs> & Pick<DryRunArgs, 'local' | 'source'>,
): Promise<{ code: number; out: string; err: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const inputs = {
    env: 'staging',
    regions: ['eu-west-1', 'us-east-1', 'ap-south-1', 'sa-east-1'],
    password: 'hunter2-long-password',
  };
  const code = await dryRun({ inputs, force: [], json: false, ...over }, { stdout, stderr });
  return { code, out: stdout.text, err: stderr.text };
}

describe('dry run', () => {
  test('prints the DAG by layer, decides `if` when it only reads inputs, defers it otherwise', async () => {
    const { local, source } = await setup();
    try {
      const { code, out } = await plan({ local, source });
      assert.equal(code, 0);
      assert.match(out, /^dry run of release \(version v1-abcdef\)/);
      assert.match(out, /\nlayer 1\n {2}build \(shell\) → runs\n/);
      assert.match(out, /if: \$\{\{ inputs\.env == "prod" \}\} → false → skipped/);
      assert.match(out, /if: \$\{\{ inputs\.env == "staging" \}\} → true → runs/);
      assert.match(out, /prod_only \(noop\) → skipped \(if: condition is false\)/);
      assert.match(out, /after_prod \(noop\) → skipped \(needs: prod_only is skipped\)/);
      assert.match(
        out,
        /if: \$\{\{ tasks\.deploy\.status == "succeeded" \}\} → decided at run time \(reads tasks\.deploy\)/,
      );
      assert.match(out, /verify \(http\) → decided at run time/);
      assert.ok(out.indexOf('layer 2') < out.indexOf('  deploy (http)'));
      assert.ok(out.indexOf('  deploy (http)') < out.indexOf('layer 3'));
    } finally {
      await local.store.close();
    }
  });

  test('for_each over inputs shows the items; templated fields resolve, with <after tasks.x> for results', async () => {
    const { local, source } = await setup();
    try {
      const { out } = await plan({ local, source });
      assert.match(out, /for_each: 4 items: "eu-west-1", "us-east-1", "ap-south-1", … \(1 more\)/);
      assert.match(
        out,
        /url: "https:\/\/eu-west-1\.deploy\.example\.test\/<after tasks\.build>\?env=staging"/,
        'known parts resolved, the task result left as a placeholder',
      );
      assert.match(out, /command\[1\]: "staging"/);
      assert.match(out, /url: "https:\/\/verify\.example\.test\/staging"/);
    } finally {
      await local.store.close();
    }
  });

  test('secrets and secret inputs never appear, in text or JSON, in any form', async () => {
    const { local, source } = await setup();
    try {
      const text = await plan({ local, source });
      const json = await plan({ local, source, json: true });
      for (const out of [text.out, text.err, json.out, json.err]) {
        assert.ok(!out.includes(CANARY), 'the secret');
        assert.ok(!out.includes(CANARY_B64) && !out.includes(CANARY_B64.replace(/=+$/, '')), 'its base64 form');
        assert.ok(!out.includes('hunter2-long-password'), 'a secret input');
      }
      assert.match(text.out, /env\.TOKEN: "\*\*\*"/);
      assert.match(text.out, /env\.ENCODED: "\*\*\*"/);
      assert.match(text.out, /password: "\*\*\*"/);
      const doc = JSON.parse(json.out) as { tasks: { id: string; spec: { env: Record<string, string> } }[] };
      assert.equal(doc.tasks.find((t) => t.id === 'build')!.spec.env.TOKEN, '***');
    } finally {
      await local.store.close();
    }
  });

  test('JSON: one document with the decisions, for_each, cache and resolved spec', async () => {
    const { local, source } = await setup();
    try {
      const { out } = await plan({ local, source, json: true });
      const doc = JSON.parse(out) as {
        workflow: string;
        version: string;
        inputs: Record<string, unknown>;
        tasks: Record<string, unknown>[];
      };
      assert.equal(doc.workflow, 'release');
      assert.equal(doc.version, 'v1-abcdef');
      assert.equal(doc.inputs.env, 'staging');
      const byId = new Map(doc.tasks.map((t) => [t.id, t]));
      assert.deepEqual(byId.get('prod_only')!.if, {
        expression: '${{ inputs.env == "prod" }}',
        decided: true,
        value: false,
      });
      assert.deepEqual(byId.get('verify')!.if, {
        expression: '${{ tasks.deploy.status == "succeeded" }}',
        decided: false,
        reads: ['tasks.deploy'],
      });
      const deploy = byId.get('deploy')!;
      assert.deepEqual(deploy.needs, ['build']);
      assert.equal(deploy.when, 'success');
      assert.deepEqual((deploy.for_each as { count: number }).count, 4);
      assert.equal(
        (deploy.spec as { url: string }).url,
        'https://eu-west-1.deploy.example.test/<after tasks.build>?env=staging',
      );
      assert.deepEqual(byId.get('build')!.cache, { key: 'build-staging-v1' });
    } finally {
      await local.store.close();
    }
  });

  test('a stored cache result is reported (would be skipped), unless --force names the task', async () => {
    const { local, source } = await setup();
    try {
      const at = Date.now() - 60_000;
      await local.store.write(
        {
          cache: [
            {
              key: 'build-staging-v1',
              runId: 'run-earlier',
              task: 'build',
              item: null,
              outputs: {},
              artifacts: {},
              createdAt: at,
              expiresAt: null,
            },
          ],
        },
        new Map(),
      );
      const { out } = await plan({ local, source });
      assert.match(out, /cache: key "build-staging-v1" → cached by run run-earlier at .*: would be skipped/);
      assert.match(out, /build \(shell\) → cached \(cached by run run-earlier\)/);
      const json = JSON.parse((await plan({ local, source, json: true })).out) as {
        tasks: { id: string; cache?: unknown }[];
      };
      assert.deepEqual(json.tasks.find((t) => t.id === 'build')!.cache, {
        key: 'build-staging-v1',
        hit: { run: 'run-earlier', at: new Date(at).toISOString() },
      });
      const forced = await plan({ local, source, force: ['build'] });
      assert.ok(!forced.out.includes('cached by run'));
      assert.match(forced.out, /cache: key "build-staging-v1" → ignored \(--force\): runs/);
      assert.match(forced.out, /build \(shell\) → runs/);
    } finally {
      await local.store.close();
    }
  });

  test('creates no run and writes nothing', async () => {
    const { local, source } = await setup();
    try {
      await plan({ local, source });
      await plan({ local, source, json: true });
      assert.deepEqual(await local.store.listRuns(), []);
      assert.equal(await local.store.getWorkflowVersion('v1-abcdef'), undefined);
      assert.equal(await local.store.lookupCache('build-staging-v1', Date.now()), undefined);
    } finally {
      await local.store.close();
    }
  });

  test('escape sequences from inputs are shown escaped', async () => {
    const { local, source } = await setup();
    try {
      const { out } = await plan({
        local,
        source,
        inputs: { env: '\x1b[2J\rprod', regions: [], password: 'hunter2-long-password' },
      });
      assert.ok(!out.includes('\x1b'));
      assert.ok(!out.includes('\r'));
      assert.match(out, /env: "\\u001b\[2J\\rprod"/);
      assert.match(out, /for_each: 0 items/);
    } finally {
      await local.store.close();
    }
  });
});
