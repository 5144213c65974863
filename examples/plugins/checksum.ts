/**
 * An example plugin: the `checksum` task kind. It hashes a text or a file (sha256 by default),
 * optionally checks the digest against an expected one, and keeps a `sha256sum`-style line as
 * an artifact. Load it with `--plugin`:
 *
 *   npx rivet run examples/plugins/checksum.yml --plugin examples/plugins/checksum.ts
 *
 * See docs/plugins.md for the interface.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { z } from 'zod';
import { definePlugin, TaskFailure } from 'rivet';

const spec = z
  .strictObject({
    text: z.string().optional().meta({ description: 'Text to hash (UTF-8).' }),
    file: z.string().optional().meta({ description: 'File to hash, relative to the workflow file.' }),
    algorithm: z.enum(['sha256', 'sha512', 'sha1', 'md5']).default('sha256'),
    // No .regex() here: the validator checks the spec as written, where this may be a ${{ }}
    // template; execute() checks the evaluated value.
    expect: z.string().optional().meta({ description: 'The digest it must have (hex); a mismatch fails the task.' }),
  })
  .refine((s) => (s.text === undefined) !== (s.file === undefined), { message: 'set exactly one of text or file' });

type Spec = z.output<typeof spec>;

export default definePlugin({
  apiVersion: 1,
  kinds: [
    {
      name: 'checksum',
      description: 'Hashes a text or a file; optionally checks the digest.',
      spec,
      outputs: ['algorithm', 'digest', 'bytes'],
      async execute(s: Spec, ctx) {
        if (s.expect !== undefined && !/^([0-9a-fA-F]{2})+$/.test(s.expect)) {
          // A bad spec: no attempt can succeed, so it is not retried.
          throw new TaskFailure('expression', `expect: ${JSON.stringify(s.expect)} is not a hex digest`, {
            retryable: false,
          });
        }
        const hash = createHash(s.algorithm);
        let bytes: number;
        let name: string;
        if (s.text !== undefined) {
          hash.update(s.text, 'utf8');
          bytes = Buffer.byteLength(s.text, 'utf8');
          name = '-';
        } else {
          const path = resolve(ctx.baseDir, s.file!);
          const info = await stat(path).catch(() => undefined);
          // Retrying cannot make a missing file appear: say so, the engine will not retry it.
          if (info?.isFile() !== true) throw new TaskFailure('error', `no file ${s.file}`, { retryable: false });
          // The task's signal aborts on timeout or cancel; the stream stops with it.
          for await (const chunk of createReadStream(path, { signal: ctx.signal })) hash.update(chunk as Buffer);
          bytes = info.size;
          name = basename(path);
        }
        const digest = hash.digest('hex');
        ctx.logger.line('info', `${s.algorithm} of ${name === '-' ? 'the text' : name} (${bytes} bytes): ${digest}`);
        await writeFile(resolve(ctx.artifactsDir, `${s.algorithm}sum.txt`), `${digest}  ${name}\n`);
        if (s.expect !== undefined && s.expect.toLowerCase() !== digest) {
          // An assertion: the content is not what was expected, and retrying will not change it.
          throw new TaskFailure('assertion', `${s.algorithm} is ${digest}, expected ${s.expect}`);
        }
        return { result: { algorithm: s.algorithm, digest, bytes } };
      },
    },
  ],
});
