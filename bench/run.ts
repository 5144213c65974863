// `npm run bench`: every figure beside its baseline, measured in the same run.
// `npm run bench -- engine` (or validate) runs one group.
import { apiFigures, sseFigures } from './api.ts';
import { chainFigures, httpFigures, layeredFigures, startFigures } from './engine.ts';
import { type Figure, format } from './harness.ts';
import { validateFigures } from './validate.ts';

const groups: Record<string, () => Figure[] | Promise<Figure[]>> = {
  validate: validateFigures,
  layered: layeredFigures,
  chain: chainFigures,
  http: httpFigures,
  start: startFigures,
  api: apiFigures,
  sse: sseFigures,
};
const only = process.argv.slice(2);
process.stdout.write(`rivet bench · node ${process.version} · ${new Date().toISOString()}\n`);
for (const [name, fn] of Object.entries(groups)) {
  if (only.length > 0 && !only.includes(name)) continue;
  for (const f of await fn()) process.stdout.write(`${format(f)}\n`);
}
