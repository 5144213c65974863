// schema/workflow.schema.json: up to date with the validator's schema, valid JSON Schema 2020-12,
// accepting every example and rejecting every invalid example whose error is schema-level.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { renderSchema } from '../scripts/generate-schema.ts';
import { parseYaml } from '../src/model/index.ts';

const root = new URL('../', import.meta.url);
const schemaText = readFileSync(new URL('schema/workflow.schema.json', root), 'utf8');
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(JSON.parse(schemaText) as object);

/** Codes whose invalid examples the JSON Schema alone must reject. */
const SCHEMA_LEVEL = new Set(['RV103', 'RV201', 'RV202', 'RV203', 'RV205', 'RV206', 'RV207', 'RV208']);

function load(path: URL): unknown {
  const parsed = parseYaml(readFileSync(path, 'utf8'));
  assert.equal(parsed.fatal, false, `${path.pathname} does not parse as YAML`);
  // Plain JSON round trip: Ajv sees exactly what an editor would.
  return JSON.parse(JSON.stringify(parsed.value)) as unknown;
}

test('the checked-in schema is what `npm run schema` generates', () => {
  assert.equal(schemaText, renderSchema(), 'schema/workflow.schema.json is stale: run npm run schema');
});

test('every example is valid against the JSON Schema', () => {
  const files = readdirSync(new URL('examples/', root)).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 5, 'expected the five story examples');
  for (const f of files) {
    const ok = validate(load(new URL(`examples/${f}`, root)));
    assert.ok(ok, `${f}: ${ajv.errorsText(validate.errors)}`);
  }
});

test('the JSON Schema rejects every schema-level invalid example', () => {
  const dir = new URL('examples/invalid/', root);
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && SCHEMA_LEVEL.has(f.slice(0, 5)));
  assert.ok(
    files.length >= SCHEMA_LEVEL.size,
    `expected an invalid example for each of ${[...SCHEMA_LEVEL].join(', ')}`,
  );
  for (const f of files) {
    assert.equal(validate(load(new URL(f, dir))), false, `${f} should be rejected by the JSON Schema`);
  }
});
