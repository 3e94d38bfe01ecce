/**
 * Which of Koha's letters this sidecar can take over, and as what notice.
 *
 * Koha picks a letter by its code: ODUE, ODUE2, ODUE3 (or whatever codes
 * the library named in its overdue triggers) for the overdue levels,
 * PREDUE / PREDUEDGST for the advance notice and DUE / DUEDGST for the
 * due-day notice, HOLD for a hold waiting on the shelf, HOLD_REMINDER for the
 * reminder before it expires, WELCOME for a new patron. The sidecar has one
 * template per notice type, channel, language and branch, so several letters
 * can land on one template: each becomes a variant, chosen by a condition on
 * the notice's own data (its level, whether it is due today, how many items).
 */
import type { ChannelName, MessageType } from '../kernel';

/** A row of Koha's `letter` table, as read from Koha's database. */
export interface KohaLetterRow {
  module: string;
  code: string;
  /** Empty for a letter of every branch. */
  branchcode: string | null;
  name: string;
  is_html: number | boolean | null;
  title: string | null;
  content: string | null;
  message_transport_type: string;
  /** A language code such as `sv-SE`, or `default`. */
  lang: string | null;
}

export interface ConvertOptions {
  /** The library's default language: what Koha's `default` letters become. */
  defaultLang: string;
  /**
   * Which overdue levels each letter code serves, from Koha's overdue
   * triggers (letter1..letter3). Codes not named here follow Koha's own
   * convention: ODUE level 1, ODUE2 level 2, ODUE3 level 3.
   */
  overdueLevels?: ReadonlyMap<string, readonly number[]>;
}

/** The notices a Koha letter can become. */
export type ImportedNoticeType = Extract<MessageType, 'overdue' | 'predue' | 'hold_waiting' | 'hold_reminder' | 'welcome'>;

/** What the sidecar makes of one Koha letter: which template, and which variant of it. */
export interface LetterTarget {
  messageType: ImportedNoticeType;
  /** The overdue levels the letter serves; empty for other types. */
  levels: number[];
  channel: ChannelName;
  lang: string;
  /** Empty for every branch. */
  branchcode: string;
  /** When the letter's text applies, as a template condition; null when it needs none. */
  condition: string | null;
  /** Order among the variants of one template: lower is asked first. */
  rank: number;
  /** Koha sends this letter about one item (PREDUE, DUE, HOLD), not a list. */
  singleItem: boolean;
  /** The name Koha gives the item list in the Template Toolkit syntax (overdues, checkouts, holds). */
  lists: readonly string[];
}

const DEFAULT_OVERDUE_LEVELS: ReadonlyMap<string, readonly number[]> = new Map([
  ['ODUE', [1]],
  ['ODUE2', [2]],
  ['ODUE3', [3]],
]);

interface KnownLetter {
  module: string;
  messageType: ImportedNoticeType;
  condition: string | null;
  rank: number;
  singleItem: boolean;
  lists: readonly string[];
}

/**
 * The pre-due letters, most specific first: the sidecar's one pre-due
 * template tells them apart by `days_left` (0 on the due day) and by how
 * many items the notice lists (Koha's digests list several).
 */
const KNOWN_LETTERS: ReadonlyMap<string, KnownLetter> = new Map<string, KnownLetter>([
  [
    'DUE',
    {
      module: 'circulation',
      messageType: 'predue',
      condition: 'days_left == 0 and items | length == 1',
      rank: 0,
      singleItem: true,
      lists: ['checkouts'],
    },
  ],
  [
    'DUEDGST',
    { module: 'circulation', messageType: 'predue', condition: 'days_left == 0', rank: 1, singleItem: false, lists: ['checkouts'] },
  ],
  [
    'PREDUE',
    { module: 'circulation', messageType: 'predue', condition: 'items | length == 1', rank: 2, singleItem: true, lists: ['checkouts'] },
  ],
  ['PREDUEDGST', { module: 'circulation', messageType: 'predue', condition: null, rank: 3, singleItem: false, lists: ['checkouts'] }],
  ['HOLD', { module: 'reserves', messageType: 'hold_waiting', condition: null, rank: 0, singleItem: true, lists: ['holds'] }],
  ['HOLD_REMINDER', { module: 'reserves', messageType: 'hold_reminder', condition: null, rank: 0, singleItem: false, lists: ['holds'] }],
  ['WELCOME', { module: 'members', messageType: 'welcome', condition: null, rank: 0, singleItem: false, lists: [] }],
]);

const TRANSPORTS: ReadonlyMap<string, ChannelName> = new Map([
  ['email', 'email'],
  ['sms', 'sms'],
  ['print', 'print'],
]);

/** A letter's identity in Koha, for reports: module, code, branch, transport, language. */
export function letterLabel(letter: KohaLetterRow): string {
  const branch = letter.branchcode ? `branch ${letter.branchcode}` : 'every branch';
  return `${letter.module}/${letter.code} (${letter.message_transport_type}, ${letter.lang || 'default'}, ${branch})`;
}

/** What the letter becomes here, or why it is not a letter this sidecar takes over. */
export function letterTarget(letter: KohaLetterRow, options: ConvertOptions): LetterTarget | { refused: string } {
  const channel = TRANSPORTS.get(letter.message_transport_type);
  if (!channel) {
    return { refused: `the sidecar sends no "${letter.message_transport_type}" messages (only email, sms and print)` };
  }
  const lang = !letter.lang || letter.lang === 'default' ? options.defaultLang : letter.lang;
  const place = { channel, lang, branchcode: letter.branchcode ?? '' };
  const levels =
    letter.module === 'circulation' ? (options.overdueLevels?.get(letter.code) ?? DEFAULT_OVERDUE_LEVELS.get(letter.code)) : undefined;
  if (levels && levels.length) {
    const sorted = [...new Set(levels)].sort((a, b) => a - b);
    return {
      messageType: 'overdue',
      levels: sorted,
      ...place,
      condition: sorted.map((level) => `level == ${level}`).join(' or '),
      rank: sorted[0],
      singleItem: false,
      lists: ['overdues', 'checkouts'],
    };
  }
  const known = KNOWN_LETTERS.get(letter.code);
  if (!known || known.module !== letter.module) {
    return { refused: 'not one of the notices this sidecar sends (overdue levels, pre-due, due, hold waiting, hold reminder, welcome)' };
  }
  return { messageType: known.messageType, levels: [], ...place, ...pick(known) };
}

function pick(known: KnownLetter): Pick<LetterTarget, 'condition' | 'rank' | 'singleItem' | 'lists'> {
  return { condition: known.condition, rank: known.rank, singleItem: known.singleItem, lists: known.lists };
}
