/**
 * Graceful stop (SIGTERM): the server takes no new work, a running task finishes within the grace
 * period and its success is kept, the next task waits for the next start, which completes the run
 * without running the finished task again. With a grace shorter than the task, the task is
 * interrupted and runs again after the restart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { until } from '../helpers/server.ts';
import { killAll, RestartableServer } from './restart-helpers.ts';

const WORKFLOW = `name: slow
inputs:
  journal: { type: string }
tasks:
  slow:
    shell:
      run: |
        echo "slow started" >> "$JOURNAL"
        sleep 1.5
        echo "slow finished" >> "$JOURNAL"
      env: { JOURNAL: "\${{ inputs.journal }}" }
  next:
    needs: [slow]
    shell:
      run: echo "next ran" >> "$JOURNAL"
      env: { JOURNAL: "\${{ inputs.journal }}" }
`;

const journal = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

async function startedSlow(s: RestartableServer, file: string): Promise<string> {
  const r = await s.api('POST', '/v1/runs', { body: { workflow: 'slow', inputs: { journal: file } } });
  assert.equal(r.status, 201, r.text);
  await until(() => (journal(file).includes('slow started') ? true : undefined), 'the slow task to start');
  return r.body.id as string;
}

async function waitState(s: RestartableServer, id: string, state: string): Promise<void> {
  await until(
    async () => ((await s.api('GET', `/v1/runs/${id}`)).body.state === state ? true : undefined),
    `run ${id} ${state}`,
    30_000,
  );
}

describe('graceful stop', () => {
  after(killAll);

  it('lets the running task finish within the grace period, keeps it, and the next start completes the run', async () => {
    const s = new RestartableServer('grace', { 'slow.yaml': WORKFLOW }, { RIVET_SHUTDOWN_GRACE: '20s' });
    try {
      await s.start();
      const file = s.file('journal');
      const id = await startedSlow(s, file);
      const { api } = s;
      const stopping = s.stop();
      // While the task finishes, the server answers, says it is stopping, and takes no new run.
      await until(async () => ((await api('GET', '/readyz')).status === 503 ? true : undefined), 'readyz 503');
      const refused = await api('POST', '/v1/runs', { body: { workflow: 'slow', inputs: { journal: file } } });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.body.code, 'RV710');
      await stopping;
      assert.deepEqual(journal(file), ['slow started', 'slow finished'], 'the task finished before the server exited');
      await s.start();
      await waitState(s, id, 'succeeded');
      assert.deepEqual(
        journal(file),
        ['slow started', 'slow finished', 'next ran'],
        'the finished task did not run again',
      );
      await s.stop();
      assert.equal(await s.integrity(), 'ok');
    } finally {
      await s.kill(false);
      s.cleanup();
    }
  });

  it('with a grace shorter than the task, interrupts it; it runs again after the restart', async () => {
    const s = new RestartableServer(
      'short',
      { 'slow.yaml': WORKFLOW },
      { RIVET_SHUTDOWN_GRACE: '100ms', RIVET_KILL_GRACE: '100ms' },
    );
    try {
      await s.start();
      const file = s.file('journal');
      const id = await startedSlow(s, file);
      await s.stop();
      assert.deepEqual(journal(file), ['slow started'], 'the task was stopped, not finished');
      await s.start();
      await waitState(s, id, 'succeeded');
      assert.deepEqual(journal(file), ['slow started', 'slow started', 'slow finished', 'next ran']);
    } finally {
      await s.kill(false);
      s.cleanup();
    }
  });
});
