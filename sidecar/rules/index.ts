/**
 * Notification rules: which rule applies to a loan, and so which delay,
 * channels and fees. Resolution is pure; loading is one query per run.
 */
import type { Knex } from 'knex';
import { KmcError } from '../errors';
import type { ChannelName } from '../channels/contract';

export const MESSAGE_TYPES = [
  'hold_waiting', 'hold_reminder', 'predue', 'overdue', 'replacement_bill', 'welcome', 'email_verification', 'staff_message',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export interface Rule {
  id: number;
  message_type: MessageType;
  level: number;
  branchcode: string | null;
  categorycode: string | null;
  itemtype: string | null;
  valid_from: string | null;
  valid_to: string | null;
  is_used: boolean;
  delay_days: number;
  channels: ChannelName[];
  send_all_channels: boolean;
  template_code: string | null;
  fee_per_notice: number;
  fee_per_item: number;
  digest: boolean;
  is_baseline: boolean;
}

export interface RuleSubject {
  branchcode: string | null;
  categorycode: string | null;
  itemtype: string | null;
  /** The library day, YYYY-MM-DD, against which validity dates are checked. */
  date: string;
}

const CHANNELS: ChannelName[] = ['email', 'sms', 'print'];

export function parseChannels(text: string): ChannelName[] {
  const out: ChannelName[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!CHANNELS.includes(part as ChannelName)) throw new KmcError('KMC_RULE_INVALID', `unknown channel "${part}" in a rule`);
    if (!out.includes(part as ChannelName)) out.push(part as ChannelName);
  }
  return out;
}

// A rule on a more dominant variable outranks any number of less dominant ones.
const WEIGHT = { branch: 4, category: 2, itemtype: 1 };

function specificity(r: Rule): number {
  return (r.branchcode ? WEIGHT.branch : 0) + (r.categorycode ? WEIGHT.category : 0) + (r.itemtype ? WEIGHT.itemtype : 0);
}

function applies(r: Rule, s: RuleSubject): boolean {
  if (r.branchcode && r.branchcode !== s.branchcode) return false;
  if (r.categorycode && r.categorycode !== s.categorycode) return false;
  if (r.itemtype && r.itemtype !== s.itemtype) return false;
  if (r.valid_from && s.date < r.valid_from) return false;
  if (r.valid_to && s.date > r.valid_to) return false;
  return true;
}

/** The winning rule for one subject, or null when not even a baseline exists. */
export function resolveRule(rules: Rule[], subject: RuleSubject): Rule | null {
  let best: Rule | null = null;
  for (const r of rules) {
    if (!applies(r, subject)) continue;
    if (!best || specificity(r) > specificity(best) || (specificity(r) === specificity(best) && r.id > best.id)) best = r;
  }
  return best;
}

interface RuleRow extends Omit<Rule, 'channels' | 'is_used' | 'send_all_channels' | 'digest' | 'is_baseline' | 'fee_per_notice' | 'fee_per_item'> {
  channels: string;
  is_used: number;
  send_all_channels: number;
  digest: number;
  is_baseline: number;
  fee_per_notice: string | number;
  fee_per_item: string | number;
}

function fromRow(r: RuleRow): Rule {
  return {
    ...r,
    valid_from: r.valid_from ? String(r.valid_from).slice(0, 10) : null,
    valid_to: r.valid_to ? String(r.valid_to).slice(0, 10) : null,
    channels: parseChannels(r.channels),
    is_used: !!r.is_used,
    send_all_channels: !!r.send_all_channels,
    digest: !!r.digest,
    is_baseline: !!r.is_baseline,
    fee_per_notice: Number(r.fee_per_notice),
    fee_per_item: Number(r.fee_per_item),
  };
}

export interface RuleStore {
  forType(type: MessageType, level?: number): Promise<Rule[]>;
}

export function createRuleStore(knex: Knex): RuleStore {
  return {
    async forType(type, level = 0) {
      const rows: RuleRow[] = await knex('kmc_rules').where({ message_type: type, level }).orderBy('id');
      return rows.map(fromRow);
    },
  };
}
