#!/usr/bin/env node
// One data quality check on a day of a facts table in the lake; writes failures=N (and
// checked=N) to $RIVET_OUTPUT for the task's assert.
//   ./etl/check.mjs --table daily_facts     (env: DAY, CHECK, COLUMN, SAMPLE_RATE, MIN, LAKE, AWS_ENDPOINT_URL)
// CHECK is not_null, unique or accepted_range (COLUMN >= MIN, MIN defaults to 0).
import { appendFileSync } from 'node:fs';
import { getObject, parseCsv } from './lake.mjs';

const table = process.argv[process.argv.indexOf('--table') + 1];
const { DAY, CHECK, COLUMN, SAMPLE_RATE = '1', MIN = '0', LAKE, RIVET_OUTPUT } = process.env;
if (!table || !DAY || !CHECK || !COLUMN || !LAKE) {
  console.error('usage: check.mjs --table NAME (with DAY, CHECK, COLUMN and LAKE set)');
  process.exit(2);
}
const rows = parseCsv(await getObject(`s3://${LAKE}/facts/day=${DAY}/${table}.csv`));
// A deterministic sample: every n-th row, n from the sample rate (at least one row).
const step = Math.max(1, Math.round(1 / Math.max(Number(SAMPLE_RATE), 1e-9)));
const sample = rows.filter((_, i) => i % step === 0);
const values = sample.map((r) => r[COLUMN]);
let failures;
if (CHECK === 'not_null') failures = values.filter((v) => v === undefined || v === '').length;
else if (CHECK === 'unique') failures = values.length - new Set(values).size;
else if (CHECK === 'accepted_range') failures = values.filter((v) => !(Number(v) >= Number(MIN))).length;
else {
  console.error(`check.mjs: unknown check ${CHECK}`);
  process.exit(2);
}
console.log(`${CHECK}(${table}.${COLUMN}) on ${sample.length} of ${rows.length} rows: ${failures} failure(s)`);
if (RIVET_OUTPUT) appendFileSync(RIVET_OUTPUT, `failures=${failures}\nchecked=${sample.length}\n`);
