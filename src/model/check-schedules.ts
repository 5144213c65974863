/** Schedules: cron expressions and time zones. */
import { Cron } from 'croner';
import type { Diagnostic } from './diagnostics.ts';
import type { SourceMap } from './source-map.ts';
import { didYouMean } from './suggest.ts';
import { isMap } from './common.ts';

const TIME_ZONES = new Set(Intl.supportedValuesOf('timeZone'));

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
    if (typeof s.timezone === 'string' && s.timezone !== 'UTC' && !TIME_ZONES.has(s.timezone)) {
      out.push(
        sm.diagnostic('RV209', [...base, 'timezone'], `unknown time zone "${s.timezone}"`, {
          hint: didYouMean(s.timezone, TIME_ZONES) ?? 'use an IANA name such as Europe/Paris',
        }),
      );
    }
  });
}
