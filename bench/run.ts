// `npm run bench`: every figure beside its baseline, measured in the same run.
import { format } from './harness.ts';
import { validateFigures } from './validate.ts';

process.stdout.write(`rivet bench · node ${process.version} · ${new Date().toISOString()}\n`);
for (const f of validateFigures()) process.stdout.write(`${format(f)}\n`);
