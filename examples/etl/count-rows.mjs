#!/usr/bin/env node
// Prints how many data rows a CSV file holds, or all the objects under an s3:// prefix.
//   ./etl/count-rows.mjs FILE | s3://bucket/prefix/
import { readFileSync } from 'node:fs';
import { csvRows, getObject, listObjects, parseS3 } from './lake.mjs';

const target = process.argv[2];
if (target === undefined) {
  console.error('usage: count-rows.mjs FILE|s3://bucket/prefix/');
  process.exit(2);
}
let rows = 0;
if (parseS3(target) === undefined) rows = csvRows(readFileSync(target, 'utf8'));
else for (const uri of await listObjects(target)) rows += csvRows(await getObject(uri));
console.log(rows);
