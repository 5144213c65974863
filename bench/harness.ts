/** A tiny benchmark harness: repeat, take the median, print a figure beside its baseline. */
import { spawnSync } from 'node:child_process';

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly name: string; readonly value: number };
  readonly goal?: string;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median wall time of `fn` in ms over `runs` runs, after `warmup` unmeasured ones. */
export function time(fn: () => void, runs = 7, warmup = 2): number {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples);
}

/** Median wall time in ms of a whole process, started with this Node. */
export function timeProcess(
  args: readonly string[],
  runs = 7,
  env: () => NodeJS.ProcessEnv = () => process.env,
): number {
  return time(
    () => {
      const r = spawnSync(process.execPath, args, { stdio: 'ignore', env: env() });
      if (r.status !== 0 && r.status !== 2) throw new Error(`${args.join(' ')} exited ${r.status}`);
    },
    runs,
    1,
  );
}

export function format(f: Figure): string {
  const v = `${f.name}: ${f.value.toFixed(f.value < 10 ? 2 : 1)} ${f.unit}`;
  const b = f.baseline
    ? `  | baseline ${f.baseline.name}: ${f.baseline.value.toFixed(f.baseline.value < 10 ? 2 : 1)} ${f.unit}  | ratio ${(f.value / f.baseline.value).toFixed(2)}`
    : '';
  return `${v}${b}${f.goal ? `  | goal ${f.goal}` : ''}`;
}
