/**
 * Notification rules: which rule applies to a loan, a hold or a patron, and
 * so which delay, channels, fees and template. Resolution is pure; loading
 * is one query per run.
 */
import type { Knex } from 'knex';
import { ConflictError, NotFoundError, RefusedError } from '../errors';
import { MESSAGE_TYPES, OVERDUE_LEVELS, type ChannelName, type MessageType } from '../kernel';

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
  /** Replacement bills: days the patron has to pay. */
  payment_term_days?: number;
  /** Set on rules made by `kmc rules import-koha`. */
  import_key?: string | null;
  note?: string | null;
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
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!CHANNELS.includes(part as ChannelName)) throw new RefusedError('KMC_RULE_INVALID', `unknown channel "${part}" in a rule`);
    if (!out.includes(part as ChannelName)) out.push(part as ChannelName);
  }
  return out;
}

// A rule on a more dominant variable outranks any number of less dominant ones.
const WEIGHT = { branch: 4, category: 2, itemtype: 1 };

export function specificity(r: Pick<Rule, 'branchcode' | 'categorycode' | 'itemtype'>): number {
  return (r.branchcode ? WEIGHT.branch : 0) + (r.categorycode ? WEIGHT.category : 0) + (r.itemtype ? WEIGHT.itemtype : 0);
}

function hasWindow(r: Rule): boolean {
  return !!(r.valid_from || r.valid_to);
}

export function ruleApplies(r: Rule, s: RuleSubject): boolean {
  if (r.branchcode && r.branchcode !== s.branchcode) return false;
  if (r.categorycode && r.categorycode !== s.categorycode) return false;
  if (r.itemtype && r.itemtype !== s.itemtype) return false;
  if (r.valid_from && s.date < r.valid_from) return false;
  if (r.valid_to && s.date > r.valid_to) return false;
  return true;
}

/** True when `a` outranks `b`: more specific; then one with a validity window (a deliberate exception); then the newer. */
function outranks(a: Rule, b: Rule): boolean {
  const sa = specificity(a);
  const sb = specificity(b);
  if (sa !== sb) return sa > sb;
  if (hasWindow(a) !== hasWindow(b)) return hasWindow(a);
  return a.id > b.id;
}

/** The winning rule for one subject, or null when not even a baseline exists. */
export function resolveRule(rules: Rule[], subject: RuleSubject): Rule | null {
  let best: Rule | null = null;
  for (const r of rules) {
    if (!ruleApplies(r, subject)) continue;
    if (!best || outranks(r, best)) best = r;
  }
  return best;
}

/**
 * Overdue rules of every level, resolved together: a level is sent only when
 * it and every level before it are used for this subject, so an unused level
 * stops it and all later ones.
 */
export class OverdueRuleChain {
  constructor(private readonly byLevel: Map<number, Rule[]>) {}

  rulesOf(level: number): Rule[] {
    return this.byLevel.get(level) ?? [];
  }

  /** The rule of a level for a subject, or null when that level (or one before it) is not used. */
  levelRule(level: number, subject: RuleSubject): Rule | null {
    for (let l = 1; l <= level; l += 1) {
      const r = resolveRule(this.rulesOf(l), subject);
      if (!r || !r.is_used) return null;
      if (l === level) return r;
    }
    return null;
  }

  /**
   * The level Koha's own overdue job sends a loan overdue `age` days: its
   * delays count from the due date, so a level's is the sum of ours up to
   * it. The highest used level whose summed delay has passed, or null.
   */
  levelAtAge(subject: RuleSubject, age: number): { level: number; rule: Rule } | null {
    let found: { level: number; rule: Rule } | null = null;
    let sum = 0;
    for (const level of OVERDUE_LEVELS) {
      const r = resolveRule(this.rulesOf(level), subject);
      if (!r || !r.is_used) break;
      sum += r.delay_days;
      if (age < sum) break;
      found = { level, rule: r };
    }
    return found;
  }

  /** The last level sent to this subject before a replacement bill (0 when no level is used). */
  lastUsedLevel(subject: RuleSubject): number {
    let last = 0;
    for (const level of OVERDUE_LEVELS) {
      const r = resolveRule(this.rulesOf(level), subject);
      if (!r || !r.is_used) break;
      last = level;
    }
    return last;
  }
}

/** A kmc_rules row as the driver gives it: flags as 0/1, DECIMAL fees as text, dates as 'YYYY-MM-DD'. */
interface RuleRow extends Omit<
  Rule,
  'channels' | 'is_used' | 'send_all_channels' | 'digest' | 'is_baseline' | 'fee_per_notice' | 'fee_per_item' | 'payment_term_days'
> {
  channels: string;
  is_used: number;
  send_all_channels: number;
  digest: number;
  is_baseline: number;
  fee_per_notice: string | number;
  fee_per_item: string | number;
  payment_term_days: number | null;
}

function fromRow(r: RuleRow): Rule {
  return {
    ...r,
    valid_from: r.valid_from ? r.valid_from.slice(0, 10) : null,
    valid_to: r.valid_to ? r.valid_to.slice(0, 10) : null,
    channels: parseChannels(r.channels),
    is_used: !!r.is_used,
    send_all_channels: !!r.send_all_channels,
    digest: !!r.digest,
    is_baseline: !!r.is_baseline,
    fee_per_notice: Number(r.fee_per_notice),
    fee_per_item: Number(r.fee_per_item),
    payment_term_days: r.payment_term_days ?? 0,
  };
}

/** What a new rule (or a change to one) may say. Absent fields keep their defaults. */
export interface RuleInput {
  message_type: MessageType;
  level?: number;
  branchcode?: string | null;
  categorycode?: string | null;
  itemtype?: string | null;
  valid_from?: string | null;
  valid_to?: string | null;
  is_used?: boolean;
  delay_days?: number;
  channels?: ChannelName[];
  send_all_channels?: boolean;
  template_code?: string | null;
  fee_per_notice?: number;
  fee_per_item?: number;
  digest?: boolean;
  payment_term_days?: number;
  import_key?: string | null;
  note?: string | null;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function invalid(message: string): never {
  throw new RefusedError('KMC_RULE_INVALID', message);
}

/** Checks a rule before it is stored, so a bad rule is refused with a reason and never half-saved. */
export function validateRuleInput(input: RuleInput): void {
  if (!(MESSAGE_TYPES as readonly string[]).includes(input.message_type)) invalid(`unknown message type "${input.message_type}"`);
  const level = input.level ?? (input.message_type === 'overdue' ? 1 : 0);
  if (input.message_type === 'overdue' ? !(level >= 1 && level <= 5 && Number.isInteger(level)) : level !== 0) {
    invalid(
      input.message_type === 'overdue'
        ? `overdue rules have a level from 1 to 5, got ${level}`
        : `${input.message_type} rules have no level (0), got ${level}`,
    );
  }
  for (const [name, v] of [
    ['valid_from', input.valid_from],
    ['valid_to', input.valid_to],
  ] as const) {
    if (v && (!DAY.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)))) invalid(`${name} must be a date YYYY-MM-DD, got "${v}"`);
  }
  if (input.valid_from && input.valid_to && input.valid_from > input.valid_to)
    invalid(`valid_from ${input.valid_from} is after valid_to ${input.valid_to}`);
  for (const [name, v] of [
    ['delay_days', input.delay_days],
    ['payment_term_days', input.payment_term_days],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 3650))
      invalid(`${name} must be a whole number of days from 0 to 3650, got ${v}`);
  }
  for (const [name, v] of [
    ['fee_per_notice', input.fee_per_notice],
    ['fee_per_item', input.fee_per_item],
  ] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v < 1e8)) invalid(`${name} must be an amount of 0 or more, got ${v}`);
  }
  if (input.channels) {
    parseChannels(input.channels.join(','));
    if (!input.channels.length && input.is_used !== false) invalid('a used rule needs at least one channel');
  }
  for (const [name, v] of [
    ['branchcode', input.branchcode],
    ['categorycode', input.categorycode],
    ['itemtype', input.itemtype],
  ] as const) {
    if (v !== undefined && v !== null && !/^[A-Za-z0-9_-]{1,10}$/.test(v))
      invalid(`${name} must be a Koha code of up to 10 letters and digits, got "${v}"`);
  }
}

function toRow(input: Partial<RuleInput>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  const copy = [
    'message_type',
    'level',
    'branchcode',
    'categorycode',
    'itemtype',
    'valid_from',
    'valid_to',
    'delay_days',
    'template_code',
    'fee_per_notice',
    'fee_per_item',
    'payment_term_days',
    'import_key',
    'note',
  ] as const;
  for (const k of copy) if (input[k] !== undefined) row[k] = input[k];
  for (const k of ['is_used', 'send_all_channels', 'digest'] as const) if (input[k] !== undefined) row[k] = input[k] ? 1 : 0;
  if (input.channels !== undefined) row.channels = input.channels.join(',');
  return row;
}

/** A column's value as text, for telling whether an import changes a rule (null and absent count as empty). */
function comparable(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

export type ImportOutcome = 'created' | 'updated' | 'unchanged';

export interface RuleStore {
  forType(type: MessageType, level?: number): Promise<Rule[]>;
  /** Overdue rules of all five levels, for resolving a loan's next level in memory. */
  overdueChain(): Promise<OverdueRuleChain>;
  list(filter?: { messageType?: MessageType }): Promise<Rule[]>;
  get(id: number): Promise<Rule | null>;
  create(input: RuleInput): Promise<number>;
  /** Changes a rule; a baseline rule keeps covering everything, always. */
  update(id: number, patch: Partial<Omit<RuleInput, 'message_type' | 'level'>>): Promise<void>;
  /** Removes a rule; a baseline rule cannot be removed (KMC_BASELINE_RULE). */
  deleteRule(id: number): Promise<void>;
  /** Creates or updates the rule with this import key, reporting which. */
  upsertImported(input: RuleInput & { import_key: string }): Promise<{ id: number; outcome: ImportOutcome }>;
}

export function createRuleStore(knex: Knex): RuleStore {
  const rules = () => knex<RuleRow>('kmc_rules');
  const store: RuleStore = {
    async forType(type, level = 0) {
      const rows = await rules().where({ message_type: type, level }).orderBy('id');
      return rows.map(fromRow);
    },

    async overdueChain() {
      const rows = await rules().where({ message_type: 'overdue' }).whereBetween('level', [1, 5]).orderBy('id');
      const byLevel = new Map<number, Rule[]>();
      for (const r of rows.map(fromRow)) byLevel.set(r.level, [...(byLevel.get(r.level) ?? []), r]);
      return new OverdueRuleChain(byLevel);
    },

    async list(filter = {}) {
      const q = rules().orderBy(['message_type', 'level', 'id']);
      if (filter.messageType) void q.where({ message_type: filter.messageType });
      return (await q).map(fromRow);
    },

    async get(id) {
      const row = await rules().where({ id }).first();
      return row ? fromRow(row) : null;
    },

    async create(input) {
      validateRuleInput(input);
      const [id] = await knex('kmc_rules').insert({
        ...toRow(input),
        level: input.level ?? (input.message_type === 'overdue' ? 1 : 0),
        is_baseline: 0,
      });
      return id;
    },

    async update(id, patch) {
      const current = await store.get(id);
      if (!current) throw new NotFoundError('KMC_RULE_NOT_FOUND', `there is no rule ${id}`);
      const merged: RuleInput = { ...current, ...patch, message_type: current.message_type, level: current.level };
      validateRuleInput(merged);
      if (current.is_baseline) {
        const narrowed = ['branchcode', 'categorycode', 'itemtype', 'valid_from', 'valid_to'].filter((k) => merged[k as keyof RuleInput]);
        if (narrowed.length) {
          throw new ConflictError(
            'KMC_BASELINE_RULE',
            `rule ${id} is the baseline for ${current.message_type}${current.level ? ` level ${current.level}` : ''} and must cover everything; it cannot be limited by ${narrowed.join(', ')}`,
          );
        }
      }
      await rules().where({ id }).update(toRow(patch));
    },

    async deleteRule(id) {
      const current = await store.get(id);
      if (!current) throw new NotFoundError('KMC_RULE_NOT_FOUND', `there is no rule ${id}`);
      if (current.is_baseline) {
        throw new ConflictError(
          'KMC_BASELINE_RULE',
          `rule ${id} is the baseline for ${current.message_type}${current.level ? ` level ${current.level}` : ''}: it covers everything no other rule covers and cannot be deleted; change it, or mark the level not used, instead`,
          { ruleId: id },
        );
      }
      // Guarded in the statement too, so a rule made baseline meanwhile is never removed.
      await rules().where({ id, is_baseline: 0 }).delete();
    },

    async upsertImported(input) {
      validateRuleInput(input);
      const existing = await rules().where({ import_key: input.import_key }).first();
      const row: Record<string, unknown> = { ...toRow(input), level: input.level ?? 0 };
      if (!existing) {
        const [id] = await knex('kmc_rules').insert({ ...row, is_baseline: 0 });
        return { id, outcome: 'created' };
      }
      const before = fromRow(existing);
      const had = (k: string): unknown => {
        if (k === 'channels') return before.channels.join(',');
        if (k === 'is_used' || k === 'digest' || k === 'send_all_channels') return before[k] ? 1 : 0;
        return (before as unknown as Record<string, unknown>)[k];
      };
      const same = Object.keys(row).every((k) => comparable(had(k)) === comparable(row[k]));
      if (same) return { id: existing.id, outcome: 'unchanged' };
      await rules().where({ id: existing.id }).update(row);
      return { id: existing.id, outcome: 'updated' };
    },
  };
  return store;
}
