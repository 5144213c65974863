/** `workflow: { name }` tasks on the server: the child is the registered workflow of that name. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startRun, waitRun } from './api-support.ts';

const PARENT = `name: parent
tasks:
  child:
    workflow:
      name: greeter
      inputs: { who: team }
  missing:
    workflow:
      name: nobody
outputs:
  said: \${{ tasks.child.outputs.said }}
`;

const GREETER = `name: greeter
inputs:
  who: { type: string, required: true }
tasks:
  say:
    noop: {}
outputs:
  said: hello \${{ inputs.who }}
`;

describe('workflow tasks by name on the server', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ workflows: { 'parent.yaml': PARENT, 'greeter.yaml': GREETER } });
  });
  after(async () => s.stop());

  it('runs the registered workflow as a child run, and fails a task naming an unknown one', async () => {
    const id = await startRun(s.api, 'parent');
    const run = await waitRun(s.api, id);
    assert.equal(run.state, 'failed');
    const detail = (await s.api('GET', `/v1/runs/${id}`)).body;
    const child = detail.tasks.find((t: { task: string }) => t.task === 'child');
    assert.equal(child.status, 'succeeded');
    assert.deepEqual(child.outputs, { said: 'hello team' });
    const missing = detail.tasks.find((t: { task: string }) => t.task === 'missing');
    assert.equal(missing.status, 'failed');
    assert.match(missing.reason, /no such workflow on this server/);
    assert.equal(detail.children.length, 1);
    assert.equal(detail.children[0].workflow, 'greeter');
    assert.equal(detail.children[0].state, 'succeeded');
  });
});
