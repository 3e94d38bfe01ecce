/**
 * The dashboard: messages per day for the last 30 days by channel and by
 * status (an inline SVG chart drawn on the server, with the same figures in a
 * table for screen readers), the delivery rate, failures by reason, the
 * queue's depth and the next scheduled runs.
 */
import { toDbTime } from '../../db';
import { CHANNELS, MESSAGE_STATUSES, addDays, libraryDay, type MessageStatus } from '../../kernel';
import { libraryDayStart } from '../messages';
import type { MessageStore } from '../../queue';
import { KOHA_JOBS_DAYS, KOHA_JOB_LETTER_PREFIXES, type HostReader, type KohaQueuedNotices } from '../../host';
import { nextFire, parseCron } from '../../scheduling';
import type { StaffPage } from '../kit';

export const DASHBOARD_DAYS = 30;
const QUEUED: MessageStatus[] = ['proposed', 'held', 'pending', 'sending'];

export interface DayCount {
  day: string;
  byChannel: Record<string, number>;
  byStatus: Record<string, number>;
  total: number;
}

export interface DashboardFigures {
  days: DayCount[];
  deliveryRate: number | null;
  done: number;
  failed: number;
  failures: Array<{ reason: string; n: number }>;
  queue: Array<{ status: string; n: number }>;
  queueTotal: number;
}

/** The figures of the last `DASHBOARD_DAYS` library days up to `now` (days in the library's time zone, as staff count them). */
export async function dashboardFigures(store: MessageStore, now: Date, timeZone: string): Promise<DashboardFigures> {
  const firstDay = addDays(libraryDay(now, timeZone), -(DASHBOARD_DAYS - 1));
  const first = libraryDayStart(firstDay, timeZone);
  const [rows, failures, queue] = await Promise.all([
    store.countsByDay(first, timeZone),
    store.failureReasons(first, 10),
    store.countInStatuses(QUEUED),
  ]);
  const days: DayCount[] = [];
  for (let i = 0; i < DASHBOARD_DAYS; i += 1) {
    days.push({ day: addDays(firstDay, i), byChannel: Object.fromEntries(CHANNELS.map((c) => [c, 0])), byStatus: {}, total: 0 });
  }
  let done = 0;
  let failed = 0;
  for (const r of rows) {
    const slot = days.find((d) => d.day === r.day);
    if (slot) {
      slot.byChannel[r.channel] = (slot.byChannel[r.channel] ?? 0) + r.n;
      slot.byStatus[r.status] = (slot.byStatus[r.status] ?? 0) + r.n;
      slot.total += r.n;
    }
    if (r.status === 'sent' || r.status === 'printed' || r.status === 'delivered') done += r.n;
    if (r.status === 'failed') failed += r.n;
  }
  return {
    days,
    deliveryRate: done + failed ? done / (done + failed) : null,
    done,
    failed,
    failures,
    queue: QUEUED.map((s) => ({ status: s, n: queue.get(s) ?? 0 })),
    queueTotal: [...queue.values()].reduce((s, n) => s + n, 0),
  };
}

export interface ChartBar {
  x: number;
  y: number;
  height: number;
  channel: string;
  day: string;
  n: number;
}

/** One day's column: where it stands, and its figures for the hover and focus text. */
export interface ChartDay {
  day: string;
  x: number;
  /** The middle of the column, for its date on the axis. */
  centre: number;
  /** Top of the column's stack, for the figure shown on hover and focus. */
  top: number;
  total: number;
  byChannel: Record<string, number>;
  /** Whether its date is written on the axis (every seventh day back from today). */
  labelled: boolean;
}

/** Room left of the bars for the scale, and below them for the dates. */
export const CHART_LEFT = 36;
export const CHART_BOTTOM = 22;

/** The top of the scale: the highest bar rounded up to a step of 1, 2 or 5 times a power of ten, with at most five steps. */
export function chartScale(max: number): { top: number; step: number } {
  for (let p = 1; ; p *= 10) {
    const step = [1, 2, 5].map((m) => m * p).find((m) => Math.ceil(max / m) <= 5);
    if (step) return { top: Math.max(step, Math.ceil(max / step) * step), step };
  }
}

/** Stacked bars per day by channel, with the scale and the dates, in SVG units (the template draws them). */
export function chartBars(
  days: DayCount[],
  height = 160,
  barWidth = 16,
  gap = 4,
): {
  bars: ChartBar[];
  days: ChartDay[];
  ticks: Array<{ y: number; value: number }>;
  width: number;
  height: number;
  max: number;
  left: number;
  barWidth: number;
} {
  const max = Math.max(1, ...days.map((d) => d.total));
  const { top, step } = chartScale(max);
  const bars: ChartBar[] = [];
  const columns: ChartDay[] = [];
  days.forEach((d, i) => {
    const x = CHART_LEFT + i * (barWidth + gap);
    let y = height;
    for (const channel of CHANNELS) {
      const n = d.byChannel[channel] ?? 0;
      if (!n) continue;
      const h = Math.max(1, Math.round((n / top) * height));
      y -= h;
      bars.push({ x, y, height: h, channel, day: d.day, n });
    }
    columns.push({
      day: d.day,
      x,
      centre: x + barWidth / 2,
      top: y,
      total: d.total,
      byChannel: d.byChannel,
      labelled: (days.length - 1 - i) % 7 === 0,
    });
  });
  const ticks: Array<{ y: number; value: number }> = [];
  for (let v = 0; v <= top; v += step) ticks.push({ value: v, y: height - Math.round((v / top) * height) });
  return { bars, days: columns, ticks, width: CHART_LEFT + days.length * (barWidth + gap), height, max, left: CHART_LEFT, barWidth };
}

/** Koha's own notice jobs still queueing what the sidecar sends (none: null); a Koha without message_queue counts as none. */
export async function kohaJobsStillRunning(
  host: Pick<HostReader, 'kohaQueuedNotices'>,
): Promise<{ days: number; total: number; rows: KohaQueuedNotices[] } | null> {
  let rows: KohaQueuedNotices[];
  try {
    rows = await host.kohaQueuedNotices(KOHA_JOBS_DAYS, KOHA_JOB_LETTER_PREFIXES);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ER_NO_SUCH_TABLE') return null;
    throw err;
  }
  const total = rows.reduce((n, r) => n + r.count, 0);
  return total ? { days: KOHA_JOBS_DAYS, total, rows } : null;
}

export const dashboardPages: StaffPage = {
  nav: [{ id: 'dashboard', path: '/dashboard', label: 'nav.dashboard', permission: 'dashboard', order: 45 }],
  mount(router, kit) {
    const { deps } = kit;
    const routines = deps.routines;
    router.get('/dashboard', kit.requirePermission('dashboard'), async (req, res) => {
      const now = deps.clock.now();
      const { t, lang } = kit.staff(res);
      const [figures, kohaJobs, queueCount] = await Promise.all([
        dashboardFigures(deps.store, now, deps.settings.timezone),
        kohaJobsStillRunning(deps.host),
        // The queue's figure is the queue page's own count (its list without a filter), so the two always agree.
        deps.store.staffQueueCount({ status: '', channel: '', branch: '', type: '' }),
      ]);
      // Bounces of the last seven days by kind, and the addresses that went bad in them.
      const weekAgo = new Date(now.getTime() - 7 * 86_400_000);
      const [bounceCounts, wentBad] = await Promise.all([
        deps.addressStates.bounceCounts(weekAgo),
        deps.addressStates.wentBad(weekAgo, 50),
      ]);
      const next = (await routines.list({ enabledOnly: true }))
        .flatMap((r) => (r.schedule ? [{ ...r, schedule: r.schedule }] : []))
        .map((r) => {
          let at: Date | null;
          try {
            at = nextFire(parseCron(r.schedule), now, deps.settings.timezone);
          } catch {
            at = null;
          }
          return { id: r.id, name: r.name, type: r.message_type, at: at ? toDbTime(at) : null };
        })
        .filter((r) => r.at)
        .sort((a, b) => String(a.at).localeCompare(String(b.at)))
        .slice(0, 10);
      const chart = chartBars(figures.days);
      // Dates on the axis and in the hover text in the staff member's language (each library day read as a calendar date).
      const locale = lang === 'en' ? 'en-GB' : lang;
      const dayShort = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', timeZone: 'UTC' });
      const dayLong = new Intl.DateTimeFormat(locale, { weekday: 'short', day: 'numeric', month: 'long', timeZone: 'UTC' });
      kit.render(req, res, 'dashboard.njk', {
        title: t('dashboard.title'),
        figures,
        chart,
        dayTexts: Object.fromEntries(
          chart.days.map((d) => {
            const date = dayLong.format(new Date(`${d.day}T12:00:00Z`));
            const parts = CHANNELS.map((c) => `${t(`channel.${c}`)} ${d.byChannel[c] ?? 0}`).join(', ');
            return [
              d.day,
              {
                short: dayShort.format(new Date(`${d.day}T12:00:00Z`)),
                full: t('dashboard.chart_day', { day: date, parts, total: d.total }),
              },
            ];
          }),
        ),
        staffQueueTotal: queueCount,
        channels: CHANNELS,
        statuses: MESSAGE_STATUSES.filter((s) => figures.days.some((d) => d.byStatus[s])),
        bounceCounts,
        wentBad: wentBad.map((s) => ({ ...s, changedAt: s.changedAt.toISOString() })),
        rate: figures.deliveryRate === null ? null : (Math.round(figures.deliveryRate * 1000) / 10).toFixed(1),
        next,
        kohaJobs,
      });
    });
  },
};
