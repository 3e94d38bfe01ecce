/**
 * `kmc rules import-koha`: makes kmc rules from Koha's overdue triggers, so a
 * library starts from its current set-up. Reads `overduerules` (with
 * `overduerules_transport_types`) and, where a Koha version keeps them
 * there, `circulation_rules` overdue_N_delay / _notice / _mtt.
 *
 * How Koha's triggers become rules:
 * - Koha counts every trigger's delay from the due date; kmc counts a later
 *   level from the day the level before it was sent, so level N's delay is
 *   Koha's delay N minus delay N-1.
 * - Triggers without a delay or a letter are not sent by Koha; the ones
 *   that are become levels 1, 2, 3 in order, and the level after the last
 *   is marked not used, so the baseline's later levels do not apply.
 * - A category without any overduerules row gets no overdue notices in
 *   Koha; it gets a "level 1 not used" rule here (only when Koha has
 *   overduerules at all).
 * - Koha's transports become the channels in the order e-mail, SMS, letter,
 *   with a letter last as Koha's fallback when e-mail cannot be sent.
 * - Every imported rule carries an import key: importing again changes
 *   what changed in Koha and makes nothing twice.
 */
import type { ChannelName } from '../kernel';
import type { NoticeReader } from '../host';
import type { ImportOutcome, RuleInput, RuleStore } from './rules';

export interface ImportedRule {
  id: number;
  outcome: ImportOutcome;
  key: string;
  description: string;
}

export interface ImportReport {
  rules: ImportedRule[];
  created: number;
  updated: number;
  unchanged: number;
  notes: string[];
}

interface Trigger {
  delay: number | null;
  letter: string | null;
  transports: string[];
}

const ORDER: ChannelName[] = ['email', 'sms', 'print'];

function channelsOf(transports: string[]): ChannelName[] {
  const set = new Set(transports);
  const out = ORDER.filter((c) => set.has(c));
  if (!out.includes('print')) out.push('print');
  return out;
}

function describe(r: RuleInput): string {
  const scope = [
    r.branchcode ? `branch ${r.branchcode}` : 'every branch',
    r.categorycode ? `category ${r.categorycode}` : 'every category',
    ...(r.itemtype ? [`item type ${r.itemtype}`] : []),
  ].join(', ');
  if (!r.is_used) return `overdue level ${r.level} not used (${scope})`;
  return `overdue level ${r.level} (${scope}): ${r.delay_days} day(s) ${r.level === 1 ? 'after the due date' : `after level ${(r.level ?? 1) - 1}`}, by ${r.channels?.join(', ')}${r.template_code ? `, letter ${r.template_code}` : ''}`;
}

/** Koha's triggers of one rule row as kmc levels: only triggers Koha sends, renumbered from 1. */
function levelsOf(
  triggers: Trigger[],
  scope: Pick<RuleInput, 'branchcode' | 'categorycode' | 'itemtype'>,
  keyPrefix: string,
  notes: string[],
): Array<RuleInput & { import_key: string }> {
  const active = triggers.flatMap((t) => (t.delay !== null && t.delay > 0 && t.letter ? [{ ...t, delay: t.delay }] : []));
  const out: Array<RuleInput & { import_key: string }> = [];
  let previous = 0;
  active.slice(0, 5).forEach((t, i) => {
    const level = i + 1;
    let delay = t.delay - previous;
    if (delay < 0) {
      notes.push(
        `${keyPrefix}: Koha's delay for level ${level} (${t.delay}) is before the previous one (${previous}); imported as 0 days after it`,
      );
      delay = 0;
    }
    previous = t.delay;
    out.push({
      message_type: 'overdue',
      level,
      ...scope,
      is_used: true,
      delay_days: delay,
      channels: channelsOf(t.transports),
      template_code: t.letter,
      digest: true,
      note: 'imported from Koha',
      import_key: `${keyPrefix}:${level}`,
    });
  });
  if (out.length < 5) {
    out.push({
      message_type: 'overdue',
      level: out.length + 1,
      ...scope,
      is_used: false,
      note: 'imported from Koha: Koha sends no further level',
      import_key: `${keyPrefix}:${out.length + 1}`,
    });
  }
  return out;
}

export async function importKohaRules(deps: { host: NoticeReader; rules: RuleStore }): Promise<ImportReport> {
  const notes: string[] = [];
  const wanted: Array<RuleInput & { import_key: string }> = [];

  const rows = await deps.host.overdueTriggers();
  for (const row of rows) {
    const scope = { branchcode: row.branchcode || null, categorycode: row.categorycode || null, itemtype: null };
    wanted.push(...levelsOf(row.levels, scope, `koha:overduerules:${row.branchcode || '*'}:${row.categorycode || '*'}`, notes));
  }
  if (rows.length) {
    const covered = new Set(rows.filter((r) => !r.branchcode).map((r) => r.categorycode));
    for (const category of await deps.host.categoryCodes()) {
      if (covered.has(category)) continue;
      wanted.push({
        message_type: 'overdue',
        level: 1,
        branchcode: null,
        categorycode: category,
        itemtype: null,
        is_used: false,
        note: 'imported from Koha: no overdue trigger for this category',
        import_key: `koha:overduerules:*:${category}:1`,
      });
    }
  }

  const circ = await deps.host.circulationOverdueTriggers();
  const groups = new Map<string, typeof circ>();
  for (const t of circ) {
    const key = `${t.branchcode ?? '*'}:${t.categorycode ?? '*'}:${t.itemtype ?? '*'}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  for (const [key, list] of groups) {
    const byLevel = new Map(list.map((t) => [t.level, t]));
    const maxLevel = Math.max(...list.map((t) => t.level));
    const triggers: Trigger[] = [];
    for (let l = 1; l <= maxLevel; l += 1) triggers.push(byLevel.get(l) ?? { delay: null, letter: null, transports: [] });
    const first = list[0];
    wanted.push(
      ...levelsOf(
        triggers,
        { branchcode: first.branchcode, categorycode: first.categorycode, itemtype: first.itemtype },
        `koha:circulation_rules:${key}`,
        notes,
      ),
    );
  }

  if (!wanted.length)
    notes.push('Koha has no overdue triggers (overduerules or circulation_rules overdue_N_*): nothing to import; the baseline rules apply');
  else
    notes.push(
      'Koha sends a notice by every ticked transport; imported rules send by the first one the patron can receive (set send_all_channels on a rule to send by all)',
    );

  const report: ImportReport = { rules: [], created: 0, updated: 0, unchanged: 0, notes };
  for (const input of wanted) {
    const { id, outcome } = await deps.rules.upsertImported(input);
    report[outcome] += 1;
    report.rules.push({ id, outcome, key: input.import_key, description: describe(input) });
  }
  return report;
}
