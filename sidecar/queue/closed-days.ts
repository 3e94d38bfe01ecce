/**
 * The closed-day hold, per branch and message type (kmc_branch_settings
 * .closed_day_hold, off by default): on a day Koha's calendar has the branch
 * closed, its SMS and e-mail of those types are `held`, and the release
 * (transitions/release.ts) puts them in the queue on the branch's next open
 * day. Letters are not held: they wait to be printed anyway. The library's
 * day is the one in `KMC_TIMEZONE`.
 */
import { isClosedOn, type KohaBranchCalendar } from '../host';
import { libraryDay, type ChannelName } from '../kernel';

/** Every held-for-a-closed-day reason starts with this, so the release finds exactly those. */
export const CLOSED_DAY_REASON = 'branch closed';

/** Where the holds are set (the branch settings store) and Koha's calendars (the host reader). */
export interface ClosedDaySource {
  closedDayHolds(): Promise<Array<{ branchcode: string; messageTypes: string[] }>>;
}

const HELD_CHANNELS: ReadonlySet<ChannelName> = new Set<ChannelName>(['sms', 'email']);

export class ClosedDays {
  constructor(
    /** branchcode → the message types that wait on its closed days. */
    private readonly holds: Map<string, Set<string>>,
    private readonly calendars: Map<string, KohaBranchCalendar>,
    private readonly timeZone: string,
  ) {}

  /** Reads the holds, and Koha's calendars only when some branch has one on. */
  static async load(
    source: ClosedDaySource,
    calendars: () => Promise<Map<string, KohaBranchCalendar>>,
    timeZone: string,
  ): Promise<ClosedDays> {
    const rows = await source.closedDayHolds();
    const holds = new Map(rows.map((r) => [r.branchcode, new Set(r.messageTypes)]));
    return new ClosedDays(holds, holds.size ? await calendars() : new Map<string, KohaBranchCalendar>(), timeZone);
  }

  /** Whether the branch's messages of this type and channel wait on its closed days. */
  holdsFor(branchcode: string | null, messageType: string, channel: ChannelName): boolean {
    return !!branchcode && HELD_CHANNELS.has(channel) && !!this.holds.get(branchcode)?.has(messageType);
  }

  /** Whether Koha's calendar has the branch closed on the library's day at this instant. */
  isClosed(branchcode: string | null, at: Date): boolean {
    return !!branchcode && isClosedOn(this.calendars.get(branchcode), libraryDay(at, this.timeZone));
  }

  /** The reason to hold this message now, or null when it may go. */
  heldNow(branchcode: string | null, messageType: string, channel: ChannelName, at: Date): string | null {
    if (!this.holdsFor(branchcode, messageType, channel) || !this.isClosed(branchcode, at)) return null;
    return `${CLOSED_DAY_REASON} at ${branchcode} on ${libraryDay(at, this.timeZone)}: it goes out on the next open day`;
  }

  /** The branches with a hold on that are closed today: their held messages stay held. */
  closedBranches(at: Date): string[] {
    return [...this.holds.keys()].filter((code) => this.isClosed(code, at));
  }

  /** No branch has the hold on: nothing to check or release. */
  get isEmpty(): boolean {
    return this.holds.size === 0;
  }
}

/** No hold anywhere: for callers given no closed-day source. */
export const NO_CLOSED_DAYS = new ClosedDays(new Map(), new Map(), 'UTC');
