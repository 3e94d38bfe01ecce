/**
 * The placement rule: where a message that may go out is put, by whoever
 * makes or moves it (a run, staff approval, a retry or a resend by staff, a
 * release). One rule, so no path skips a gate:
 *
 * - an e-mail to an address waiting for the patron's verification is `held`
 *   (released when it is verified); one whose verification expired finds no
 *   address (`missing_contact`);
 * - an SMS or e-mail of a branch closed today, with the branch's closed-day
 *   hold on for its type, is `held` (released on the next open day);
 * - an SMS during the quiet hours of its branch is `held` (released when
 *   they end);
 * - a message of a routine that needs approval is `proposed`, with where it
 *   would have gone said in its reason;
 * - anything else is `pending`, in the queue.
 */
import type { ChannelName } from '../kernel';

/** The reason stored on an e-mail held for verification; the release finds them by status and channel. */
export const WAITING_FOR_VERIFICATION = 'waiting for the patron to verify the e-mail address';
export const VERIFICATION_EXPIRED = 'email: address expired without being verified';
export const ADDRESS_UNDELIVERABLE = 'email: address undeliverable (it bounced)';

/**
 * Whether a patron's e-mail address may carry notices now. The verification
 * capability answers; without one every syntactically usable address is used.
 * Patrons missing from the answer are usable.
 */
export type EmailGateState = 'held' | 'expired' | 'undeliverable' | 'complained';
export interface EmailGate {
  check(patrons: Array<{ borrowernumber: number; email: string }>): Promise<Map<number, EmailGateState>>;
}

export interface PlacementFacts {
  channel: ChannelName;
  /** The verification state of the e-mail address it goes to (e-mail only); absent when usable. */
  emailState?: EmailGateState | null;
  /** The branch's SMS quiet hours now: the reason to store while they last, null when they do not. */
  quietHours?: string | null;
  /** The branch is closed today and holds this type: the reason to store, null when it may go. */
  closedDay?: string | null;
  /** The routine's messages wait for staff approval; the name goes into the reason. */
  approval?: { routineName: string | null } | null;
}

export interface Placement {
  status: 'pending' | 'held' | 'proposed' | 'missing_contact';
  /** Why it is there, in words staff understand; null in the queue. */
  reason: string | null;
}

export function placeMessage(facts: PlacementFacts): Placement {
  let placed: Placement = { status: 'pending', reason: null };
  if (facts.channel === 'email' && facts.emailState === 'expired') return { status: 'missing_contact', reason: VERIFICATION_EXPIRED };
  if (facts.channel === 'email' && facts.emailState === 'undeliverable')
    return { status: 'missing_contact', reason: ADDRESS_UNDELIVERABLE };
  if (facts.channel === 'email' && facts.emailState === 'held') placed = { status: 'held', reason: WAITING_FOR_VERIFICATION };
  else if (facts.closedDay && (facts.channel === 'sms' || facts.channel === 'email')) placed = { status: 'held', reason: facts.closedDay };
  else if (facts.channel === 'sms' && facts.quietHours) placed = { status: 'held', reason: facts.quietHours };
  if (facts.approval) {
    const routine = facts.approval.routineName ? ` (routine "${facts.approval.routineName}")` : '';
    return { status: 'proposed', reason: `waiting for staff approval${routine}${placed.reason ? `; then ${placed.reason}` : ''}` };
  }
  return placed;
}
