/**
 * A routine's schedule as staff pick it: by hand, daily at a time, on
 * weekdays at a time, or every N hours within the library's opening hours;
 * the cron form stays for anything else ("advanced"). The stored schedule is
 * always cron; these turn one into the other.
 */
export type ScheduleKind = 'none' | 'daily' | 'weekdays' | 'hours' | 'advanced';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['none', 'daily', 'weekdays', 'hours', 'advanced'];

export interface ScheduleChoice {
  kind: ScheduleKind;
  /** HH:MM, for daily and weekdays. */
  time: string;
  /** Every so many hours (1 to 12) … */
  every: number;
  /** … from this whole hour to this one (the opening hours), both included. */
  from: number;
  to: number;
  /** The cron form, for advanced. */
  cron: string;
}

export const DEFAULT_CHOICE: ScheduleChoice = { kind: 'none', time: '06:30', every: 2, from: 9, to: 17, cron: '' };

const TIME = /^([01]?\d|2[0-3]):([0-5]\d)$/;

/** The cron of a choice, or null when the choice is not complete (a time that is not HH:MM, hours out of order). */
export function cronOfChoice(c: ScheduleChoice): string | null {
  if (c.kind === 'none') return '';
  if (c.kind === 'advanced') return c.cron.trim().replace(/\s+/g, ' ');
  if (c.kind === 'hours') {
    const ok =
      [c.every, c.from, c.to].every(Number.isInteger) && c.every >= 1 && c.every <= 12 && c.from >= 0 && c.to <= 23 && c.from < c.to;
    return ok ? `0 ${c.from}-${c.to}/${c.every} * * *` : null;
  }
  const m = TIME.exec(c.time.trim());
  if (!m) return null;
  return `${Number(m[2])} ${Number(m[1])} * * ${c.kind === 'weekdays' ? '1-5' : '*'}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The choice a stored cron reads as: one of the simple forms when it is one, else advanced with the cron as it is. */
export function choiceOfCron(cron: string | null | undefined): ScheduleChoice {
  const source = (cron ?? '').trim().replace(/\s+/g, ' ');
  if (!source) return { ...DEFAULT_CHOICE };
  let m = /^(\d{1,2}) (\d{1,2}) \* \* (\*|1-5)$/.exec(source);
  if (m && Number(m[1]) <= 59 && Number(m[2]) <= 23)
    return {
      ...DEFAULT_CHOICE,
      kind: m[3] === '*' ? 'daily' : 'weekdays',
      time: `${pad(Number(m[2]))}:${pad(Number(m[1]))}`,
      cron: source,
    };
  m = /^0 (\d{1,2})-(\d{1,2})\/(\d{1,2}) \* \* \*$/.exec(source);
  if (m) {
    const choice: ScheduleChoice = {
      ...DEFAULT_CHOICE,
      kind: 'hours',
      from: Number(m[1]),
      to: Number(m[2]),
      every: Number(m[3]),
      cron: source,
    };
    if (cronOfChoice(choice) === source) return choice;
  }
  return { ...DEFAULT_CHOICE, kind: 'advanced', cron: source };
}

/** A choice from a posted form's fields (schedule_kind, schedule_time, schedule_every, schedule_from, schedule_to, schedule). */
export function choiceFromForm(body: Record<string, unknown>): ScheduleChoice {
  const text = (name: string) => (typeof body[name] === 'string' ? body[name].trim().slice(0, 120) : '');
  const whole = (name: string, fallback: number) => (/^\d{1,2}$/.test(text(name)) ? Number(text(name)) : fallback);
  const kind = SCHEDULE_KINDS.find((k) => k === text('schedule_kind')) ?? 'advanced';
  return {
    kind,
    time: text('schedule_time') || DEFAULT_CHOICE.time,
    every: whole('schedule_every', -1),
    from: whole('schedule_from', -1),
    to: whole('schedule_to', -1),
    cron: text('schedule'),
  };
}
