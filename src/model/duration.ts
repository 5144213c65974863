/** Durations as workflows write them (no dependencies: the CLI's option parsing uses this too). */

/** `500ms`, `30s`, `5m`, `1h30m`, `2d`, `1.5h`. */
export const DURATION_RE = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration string, or undefined when it is not one. */
export function parseDuration(value: string): number | undefined {
  if (!DURATION_RE.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(total);
}
