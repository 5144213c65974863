#!/usr/bin/env node
// The `rivet` command. Rivet runs its TypeScript sources directly, which needs Node.js 22.18 or
// newer (type stripping, node:sqlite). The project provisions Node 24 in node_modules/node (the
// npm package `node`); when an older system node starts this file, it hands over to that one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const self = fileURLToPath(import.meta.url);
  const bundled = join(dirname(self), '..', 'node_modules', 'node', 'bin', 'node');
  if (existsSync(bundled) && process.env.RIVET_NODE_HANDOVER !== '1') {
    const child = spawnSync(bundled, [self, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, RIVET_NODE_HANDOVER: '1' },
    });
    process.exit(child.status ?? 1);
  }
  process.stderr.write(
    `rivet needs Node.js 22.18 or newer, and this is ${process.version}.\n` +
      'hint: run `npm install` in the Rivet folder (it provisions Node 24 into node_modules), then `npx rivet`.\n',
  );
  process.exit(2);
}

// A reader that goes away early (`rivet validate ... | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// Node caches compiled code (and stripped TypeScript) on disk: later starts skip that work.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
