#!/usr/bin/env node
// The examples' data lake client: objects at s3://BUCKET/KEY on the S3-like store of the fake
// platform API (examples/platform-api), reached at $AWS_ENDPOINT_URL as the AWS CLI would be.
// As a program it is the `aws s3` stand-in of examples/bin/aws:
//   aws s3 cp SRC DST          (SRC and DST: a local file or s3://bucket/key)
//   aws s3 ls s3://bucket/prefix
/* global fetch */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

function endpoint() {
  const url = process.env.AWS_ENDPOINT_URL;
  if (!url) throw new Error('AWS_ENDPOINT_URL is not set (the lake endpoint, vars.lake_endpoint in the examples)');
  return url.replace(/\/$/, '');
}

/** { bucket, key } of an s3:// URI, or undefined for a local path. */
export function parseS3(uri) {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  return m === null ? undefined : { bucket: m[1], key: m[2] };
}

async function call(method, path, body) {
  const res = await fetch(`${endpoint()}/${path}`, { method, body, headers: { 'content-type': 'text/csv' } });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

export async function getObject(uri) {
  const { bucket, key } = parseS3(uri);
  return (await call('GET', `${bucket}/${key}`)).text();
}

export async function putObject(uri, text) {
  const { bucket, key } = parseS3(uri);
  await call('PUT', `${bucket}/${key}`, text);
}

/** The s3:// URIs of every object under a prefix. */
export async function listObjects(uri) {
  const { bucket, key } = parseS3(uri);
  const res = await call('GET', `${bucket}?prefix=${encodeURIComponent(key)}`);
  return (await res.json()).keys.map((k) => `s3://${bucket}/${k}`);
}

/** Data rows of a CSV text (lines but the header). */
export const csvRows = (text) => Math.max(0, text.split('\n').filter((l) => l.trim() !== '').length - 1);

/** Parses CSV text (no quoting: the examples' data has none) into objects. */
export function parseCsv(text) {
  const [header, ...lines] = text.split('\n').filter((l) => l.trim() !== '');
  const names = header.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [names[i], v])));
}

export function toCsv(rows, names) {
  return `${[names.join(','), ...rows.map((r) => names.map((n) => r[n]).join(','))].join('\n')}\n`;
}

async function main(args) {
  const [service, command, src, dst] = args;
  if (service !== 's3' || !['cp', 'ls'].includes(command) || src === undefined) {
    throw new Error('usage: aws s3 cp SRC DST | aws s3 ls s3://bucket/prefix');
  }
  if (command === 'ls') {
    for (const uri of await listObjects(src)) console.log(uri);
    return;
  }
  const text = parseS3(src) === undefined ? readFileSync(src, 'utf8') : await getObject(src);
  if (parseS3(dst) === undefined) writeFileSync(dst, text);
  else await putObject(dst, text);
  console.log(`upload: ${src} to ${dst}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`aws: ${error.message}`);
    process.exit(1);
  });
}
