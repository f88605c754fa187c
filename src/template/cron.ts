import { Cron } from 'croner';

// FC timer triggers take a 6-field cron expression with seconds (`0 0/5 * * * *`, Quartz style)
// or `@every 1h30m`. croner does the matching; this module translates FC's dialect for it.

const FIELD_MAX = [59, 59, 23, 31, 12, 7];

export type Schedule =
  | { kind: 'cron'; pattern: string }
  | { kind: 'every'; intervalMs: number };

/** Parses FC's cron dialect; throws an Error whose message explains what is wrong. */
export function parseSchedule(expression: string): Schedule {
  const expr = expression.trim();
  if (expr.startsWith('@every')) {
    const spec = expr.slice('@every'.length).trim();
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(spec);
    if (!spec || !m) throw new Error(`'@every' takes a duration such as 1h30m, 5m or 30s (got '${spec}')`);
    const ms = ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
    if (ms < 60_000) throw new Error(`'@every' needs an interval of at least 1m (got '${spec}')`);
    return { kind: 'every', intervalMs: ms };
  }
  const fields = expr.split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(`a cron expression has 6 fields (seconds minutes hours day-of-month month day-of-week), got ${fields.length}`);
  }
  // Quartz's `start/step` means `start-max/step`; croner wants the range spelled out.
  const pattern = fields
    .map((f, i) =>
      f.replace(/^(\d+)\/(\d+)$/, (_, start: string, step: string) =>
        // A step past the field's range fires at `start` only (the guide's `0 1/1000 * * * *`).
        Number(step) > FIELD_MAX[i]! ? start : `${start}-${FIELD_MAX[i]}/${step}`,
      ),
    )
    .join(' ');
  try {
    new Cron(pattern, { paused: true, legacyMode: true });
  } catch (err) {
    throw new Error((err as Error).message.replace(/^CronPattern: /, ''));
  }
  return { kind: 'cron', pattern };
}

/** Next fire time after `from`, or undefined if the schedule never fires again. */
export function nextFire(schedule: Schedule, from: Date): Date | undefined {
  if (schedule.kind === 'every') return new Date(from.getTime() + schedule.intervalMs);
  return new Cron(schedule.pattern, { paused: true, legacyMode: true, timezone: 'UTC' }).nextRun(from) ?? undefined;
}
