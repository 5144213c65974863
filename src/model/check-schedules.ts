/** Schedules: cron expressions and time zones. */
import { Cron } from 'croner';
import type { Diagnostic } from './diagnostics.ts';
import type { SourceMap } from './source-map.ts';
import { didYouMean } from './suggest.ts';
import { isMap } from './common.ts';

const TIME_ZONES = new Set(Intl.supportedValuesOf('timeZone'));

/**
 * Whether Intl (and so croner) knows the zone. supportedValuesOf lists canonical names only, and
 * ICU's canonical names lag IANA's (it lists Asia/Calcutta, not Asia/Kolkata), so aliases are
 * checked by building a formatter; the list only feeds the suggestion.
 */
function knownTimeZone(zone: string): boolean {
  if (TIME_ZONES.has(zone)) return true;
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function checkSchedules(doc: Record<string, unknown>, sm: SourceMap, out: Diagnostic[]): void {
  if (!isMap(doc.on) || doc.on.schedule === undefined) return;
  const list = Array.isArray(doc.on.schedule) ? doc.on.schedule : [doc.on.schedule];
  list.forEach((s, i) => {
    if (!isMap(s)) return;
    const base = Array.isArray(doc.on && (doc.on as Record<string, unknown>).schedule)
      ? ['on', 'schedule', i]
      : ['on', 'schedule'];
    if (typeof s.cron === 'string') {
      try {
        new Cron(s.cron, { paused: true }).stop();
      } catch (err) {
        out.push(
          sm.diagnostic(
            'RV209',
            [...base, 'cron'],
            `invalid cron expression "${s.cron}": ${(err as Error).message.replace(/^CronPattern: /, '')}`,
            {
              hint: 'five fields: minute hour day-of-month month day-of-week, e.g. "30 2 * * 1-5"',
            },
          ),
        );
      }
    }
    if (typeof s.timezone === 'string' && !knownTimeZone(s.timezone)) {
      out.push(
        sm.diagnostic('RV209', [...base, 'timezone'], `unknown time zone "${s.timezone}"`, {
          hint: didYouMean(s.timezone, TIME_ZONES) ?? 'use an IANA name such as Europe/Paris',
        }),
      );
    }
  });
}
