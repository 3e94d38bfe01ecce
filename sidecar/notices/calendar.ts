/**
 * Open days, as Koha's overdue job counts them. With Koha's system
 * preference `OverdueNoticeCalendar` on (renamed `OverdueTriggersCalendar`
 * in recent Koha; either counts), the delay of an overdue level is counted
 * in days the branch is open, from Koha's own calendar of that branch, and
 * on a day the branch is closed no overdue notice of that branch is made
 * (Koha's job skips the branch that day; `OverdueNoticeSkipWhenClosed`
 * asks for that skip without counting in open days). Off: every day counts.
 *
 * A day is closed, as Koha's calendar decides, unless an exception opens it:
 * a closed weekday, a day closed every year, or a single closed date.
 */
import { isClosedOn, type KohaBranchCalendar, type HostReader } from '../host';
import { addDays, daysBetween } from '../kernel';

/** Koha reads a yes/no preference as true when it is set to anything but empty or 0. */
function prefOn(value: string | null | undefined): boolean {
  return !!value && value.trim() !== '' && value.trim() !== '0';
}

type CircControl = 'PickupLibrary' | 'PatronLibrary' | 'ItemHomeLibrary';

function asCircControl(value: string | null | undefined): CircControl {
  return value === 'PickupLibrary' || value === 'PatronLibrary' ? value : 'ItemHomeLibrary';
}

export class OverdueCalendar {
  private readonly memo = new Map<string, number>();

  private constructor(
    /** Delays count open days only. */
    readonly countsOpenDays: boolean,
    /** No overdue notice of a branch on a day it is closed. */
    readonly skipsClosedDays: boolean,
    private readonly calendars: Map<string, KohaBranchCalendar>,
    private readonly circControl: CircControl,
    private readonly homeOrHolding: 'homebranch' | 'holdingbranch',
  ) {}

  /** Reads Koha's preferences, and its calendars when they are used. */
  static async load(host: Pick<HostReader, 'systemPreferences' | 'calendars'>): Promise<OverdueCalendar> {
    const prefs = await host.systemPreferences([
      'OverdueNoticeCalendar',
      'OverdueTriggersCalendar',
      'OverdueNoticeSkipWhenClosed',
      'CircControl',
      'HomeOrHoldingBranch',
    ]);
    const counts = prefOn(prefs.OverdueNoticeCalendar) || prefOn(prefs.OverdueTriggersCalendar);
    const skips = counts || prefOn(prefs.OverdueNoticeSkipWhenClosed);
    const control = asCircControl(prefs.CircControl);
    const homeOrHolding = prefs.HomeOrHoldingBranch === 'homebranch' ? 'homebranch' : 'holdingbranch';
    return new OverdueCalendar(
      counts,
      skips,
      skips ? await host.calendars() : new Map<string, KohaBranchCalendar>(),
      control,
      homeOrHolding,
    );
  }

  /**
   * The branch whose calendar counts for a loan, as Koha's circulation
   * decides it (`CircControl`): the branch that lent it (PickupLibrary), the
   * patron's (PatronLibrary), or the item's (ItemHomeLibrary, Koha's default:
   * its home or holding branch as `HomeOrHoldingBranch` says).
   */
  branchFor(loan: {
    issue_branchcode: string | null;
    branchcode: string;
    homebranch: string | null;
    holdingbranch: string | null;
  }): string | null {
    switch (this.circControl) {
      case 'PickupLibrary':
        return loan.issue_branchcode;
      case 'PatronLibrary':
        return loan.branchcode;
      default:
        return (this.homeOrHolding === 'homebranch' ? loan.homebranch : loan.holdingbranch) ?? loan.homebranch ?? loan.issue_branchcode;
    }
  }

  /** Whether Koha's calendar has the branch closed on a day (YYYY-MM-DD). */
  isClosed(branchcode: string | null, day: string): boolean {
    return isClosedOn(branchcode ? this.calendars.get(branchcode) : undefined, day);
  }

  /**
   * Days from `from` to `to` for a delay: every day, or with the calendar on,
   * the days between less each closed day from `from` up to the day before
   * `to`, as Koha's `days_between` counts from a due date to the run.
   */
  daysBetween(branchcode: string | null, from: string, to: string): number {
    const all = daysBetween(from, to);
    if (!this.countsOpenDays || all <= 0 || !branchcode || !this.calendars.has(branchcode)) return all;
    const key = `${branchcode}|${from}|${to}`;
    const known = this.memo.get(key);
    if (known !== undefined) return known;
    let open = all;
    for (let day = from; day < to; day = addDays(day, 1)) if (this.isClosed(branchcode, day)) open -= 1;
    this.memo.set(key, open);
    return open;
  }

  /** Why no overdue notice of this branch is made today, or null when one may be. */
  closedToday(branchcode: string | null, runDate: string): string | null {
    return this.skipsClosedDays && this.isClosed(branchcode, runDate) ? 'branch_closed' : null;
  }
}
