import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DESIGN_EXAMPLE } from '../../test/helpers/diagnostics.ts';
import { dataEdges, listReferences } from './references.ts';
import { validateWorkflowText } from './validate.ts';

const doc = validateWorkflowText(DESIGN_EXAMPLE).workflow!.document;

test('every templated string is listed with its path and references', () => {
  const refs = listReferences(doc);
  const json = refs.find((r) => r.path.join('.') === 'tasks.create.http.json.team_id');
  assert.ok(json, 'the create task json body is listed');
  assert.deepEqual(
    json.references.map((r) => [r.root, ...r.path].join('.')),
    ['tasks.find_team.outputs.team_id'],
  );
  const trigger = refs.find((r) => r.path.join('.') === 'on.webhook.inputs.team');
  assert.deepEqual(
    trigger?.references.map((r) => r.root),
    ['event'],
  );
});

test('data edges are the task-to-task reads', () => {
  assert.deepEqual(dataEdges(doc), [{ from: 'find_team', to: 'create' }]);
});

test('broken expressions are skipped, not thrown', () => {
  assert.deepEqual(listReferences({ a: '${{ 1 + }}', b: '${{ unclosed' }), []);
});
