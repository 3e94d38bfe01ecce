/**
 * Which channels each message type may use at one branch, in order of
 * preference. The answer lives where the notice engine already looks: a
 * branch's own rule for the type (no patron category, no item type). Saving
 * here changes that rule, or makes one from the rule in force, so the engine
 * and the rules page always agree with what this page shows.
 */
import { OVERDUE_LEVELS, parseChannels, resolveRule, type MessageType, type Rule, type RuleStore } from '../../rules';
import type { ChannelName } from '../../kernel';

/** The types whose channels a branch chooses; staff messages and verification mail go as staff or the patron decide. */
export const BRANCH_CHANNEL_TYPES: ReadonlyArray<{ type: MessageType; level: number }> = [
  { type: 'hold_waiting', level: 0 },
  { type: 'hold_reminder', level: 0 },
  { type: 'predue', level: 0 },
  ...OVERDUE_LEVELS.map((level): { type: MessageType; level: number } => ({ type: 'overdue', level })),
  { type: 'replacement_bill', level: 0 },
  { type: 'welcome', level: 0 },
];

export const CHANNEL_CHOICES: readonly ChannelName[] = ['email', 'sms', 'print'];

export interface BranchChannelRow {
  type: MessageType;
  level: number;
  key: string;
  channels: ChannelName[];
  /** The rule in force for the branch as a whole, and whether it is the branch's own. */
  ruleId: number | null;
  own: boolean;
}

function isBranchWide(r: Rule, branchcode: string): boolean {
  return r.branchcode === branchcode && !r.categorycode && !r.itemtype && !r.valid_from && !r.valid_to;
}

export async function branchChannels(store: RuleStore, branchcode: string, day: string): Promise<BranchChannelRow[]> {
  const out: BranchChannelRow[] = [];
  for (const { type, level } of BRANCH_CHANNEL_TYPES) {
    const rules = await store.forType(type, level);
    const winner = resolveRule(rules, { branchcode, categorycode: null, itemtype: null, date: day });
    out.push({
      type,
      level,
      key: `${type}_${level}`,
      channels: winner?.channels ?? [],
      ruleId: winner?.id ?? null,
      own: !!winner && isBranchWide(winner, branchcode),
    });
  }
  return out;
}

/** Reads `ch_<type>_<level>_<n>` choices (first, second, third) from a posted form; null when the form has none for this type. */
export function channelsFromForm(body: Record<string, unknown>, key: string): ChannelName[] | null {
  if (![1, 2, 3].some((n) => `ch_${key}_${n}` in body)) return null;
  const picked: string[] = [];
  for (const n of [1, 2, 3]) {
    const v = body[`ch_${key}_${n}`];
    if (typeof v === 'string' && v && v !== 'none') picked.push(v);
  }
  return parseChannels(picked.join(','));
}

/**
 * Stores the branch's channel order for the types whose order changed.
 * Returns which types changed; refuses an empty list with the type named.
 */
export async function saveBranchChannels(
  store: RuleStore,
  branchcode: string,
  day: string,
  wanted: Map<string, ChannelName[]>,
): Promise<{ changed: string[]; empty: string[] }> {
  const current = await branchChannels(store, branchcode, day);
  const empty = current.filter((row) => wanted.get(row.key)?.length === 0).map((r) => r.key);
  if (empty.length) return { changed: [], empty };
  const changed: string[] = [];
  for (const row of current) {
    const channels = wanted.get(row.key);
    if (!channels || channels.join(',') === row.channels.join(',')) continue;
    if (row.own && row.ruleId) {
      await store.update(row.ruleId, { channels });
    } else {
      // A branch rule that starts as a copy of what was in force, with only the channels changed.
      const base = row.ruleId ? await store.get(row.ruleId) : null;
      await store.create({
        message_type: row.type,
        level: row.level,
        branchcode,
        categorycode: null,
        itemtype: null,
        is_used: base?.is_used ?? true,
        delay_days: base?.delay_days,
        channels,
        send_all_channels: base?.send_all_channels,
        template_code: base?.template_code ?? null,
        fee_per_notice: base?.fee_per_notice,
        fee_per_item: base?.fee_per_item,
        digest: base?.digest,
        payment_term_days: base?.payment_term_days,
        note: 'channels chosen on the branch settings page',
      });
    }
    changed.push(row.key);
  }
  return { changed, empty: [] };
}
