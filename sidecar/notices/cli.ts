/**
 * The notice engine's commands:
 *   kmc rules import-koha [--json]        make kmc rules from Koha's overdue triggers
 *   kmc rules list [--type TYPE] [--json] the rule matrix
 *   kmc rules delete ID                   remove a rule (never a baseline)
 *   kmc routines [--json]                 the routines and their next fire
 *   kmc routines run NAME [--date D] [--dry-run] [--json]
 *   kmc message --borrower N --channel email|sms --text "..." [--subject S] [--json]
 * Arguments are checked before anything is opened, so a typo costs no connection.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors';
import type { Settings } from '../config';
import type { HostReader } from '../host';
import { importKohaRules, MESSAGE_TYPES, type MessageType, type Rule, type RuleStore } from '../rules';
import { nextFire, parseCron, routineRunFields, type RoutineStore } from '../scheduling';
import { libraryDay, type Clock } from '../kernel';
import type { NoticeDeps } from './context';
import { runNotices } from './run';
import { sendStaffMessage } from './staff';

type Out = { stdout: (s: string) => void; stderr: (s: string) => void };

/** What the notice engine's commands use of the composition root. */
export interface NoticeCommandServices {
  host: HostReader;
  rules: RuleStore;
  routines: RoutineStore;
  clock: Clock;
  settings: Pick<Settings, 'timezone'>;
  notices: NoticeDeps;
}

/** Opens the root for one command (arguments are checked first) and closes it after. */
export type OpenServices = <T>(fn: (s: NoticeCommandServices) => Promise<T>) => Promise<T>;

function ruleLine(r: Rule): string {
  const scope =
    [
      r.branchcode ? `branch ${r.branchcode}` : null,
      r.categorycode ? `category ${r.categorycode}` : null,
      r.itemtype ? `item type ${r.itemtype}` : null,
    ]
      .filter(Boolean)
      .join(', ') || 'everything';
  const window = r.valid_from || r.valid_to ? ` valid ${r.valid_from ?? '…'} to ${r.valid_to ?? '…'}` : '';
  const what = r.is_used
    ? `delay ${r.delay_days}, ${r.channels.join(',')}${r.send_all_channels ? ' (all)' : ''}${r.digest ? ', digest' : ', per item'}${r.fee_per_notice || r.fee_per_item ? `, fees ${r.fee_per_notice}+${r.fee_per_item}/item` : ''}${r.payment_term_days ? `, pay in ${r.payment_term_days} days` : ''}`
    : 'not used';
  return `#${r.id} ${r.message_type}${r.level ? ` ${r.level}` : ''}${r.is_baseline ? ' [baseline]' : ''} (${scope}${window}): ${what}`;
}

export async function rulesCommand(rest: string[], open: OpenServices, out: Out): Promise<number> {
  const [sub, ...args] = rest;
  if (sub === 'import-koha') {
    const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
    return open(async (s) => {
      const report = await importKohaRules({ host: s.host, rules: s.rules });
      if (values.json) {
        out.stdout(JSON.stringify(report));
        return 0;
      }
      for (const r of report.rules) out.stdout(`${r.outcome.padEnd(9)} rule ${r.id}: ${r.description}`);
      out.stdout(`created ${report.created}, updated ${report.updated}, unchanged ${report.unchanged}`);
      for (const n of report.notes) out.stdout(`note: ${n}`);
      return 0;
    });
  }
  if (sub === 'list') {
    const { values } = parseArgs({ args, options: { type: { type: 'string' }, json: { type: 'boolean' } } });
    if (values.type && !(MESSAGE_TYPES as readonly string[]).includes(values.type))
      throw new UsageError(`--type takes one of ${MESSAGE_TYPES.join(', ')}`);
    return open(async (s) => {
      const rules = await s.rules.list({ messageType: values.type as MessageType | undefined });
      if (values.json) out.stdout(JSON.stringify({ rules }));
      else for (const r of rules) out.stdout(ruleLine(r));
      return 0;
    });
  }
  if (sub === 'delete') {
    const [id] = args;
    if (!id || !/^\d+$/.test(id)) throw new UsageError('kmc rules delete takes a rule number');
    return open(async (s) => {
      await s.rules.deleteRule(Number(id));
      out.stdout(`rule ${id} deleted`);
      return 0;
    });
  }
  throw new UsageError('kmc rules takes import-koha, list or delete ID');
}

export async function routinesCommand(rest: string[], open: OpenServices, out: Out): Promise<number> {
  const [sub, ...args] = rest;
  if (!sub || sub === '--json') {
    const json = sub === '--json' || args.includes('--json');
    return open(async (s) => {
      const now = s.clock.now();
      const list = (await s.routines.list()).map((r) => ({
        ...r,
        next: r.enabled && r.schedule ? (nextFire(parseCron(r.schedule), now, s.settings.timezone)?.toISOString() ?? null) : null,
      }));
      if (json) out.stdout(JSON.stringify({ routines: list }));
      else
        for (const r of list)
          out.stdout(
            `#${r.id} ${r.name}: ${r.message_type}${r.level ? ` level ${r.level}` : ''}, ${r.schedule ?? 'by hand'}${r.enabled ? '' : ' (disabled)'}${r.needs_approval ? ', needs approval' : ''}${r.next ? `, next ${r.next}` : ''}`,
          );
      return 0;
    });
  }
  if (sub === 'run') {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { date: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
    });
    if (positionals.length !== 1) throw new UsageError('kmc routines run takes one routine name (in quotes if it has spaces)');
    return open(async (s) => {
      const routine = await s.routines.byName(positionals[0]);
      if (!routine) throw new UsageError(`there is no routine named "${positionals[0]}"; kmc routines lists them`);
      const result = await runNotices(s.notices, {
        ...routineRunFields(routine),
        date: values.date ?? libraryDay(s.clock.now(), s.settings.timezone),
        dryRun: !!values['dry-run'],
        startedBy: 'cli',
      });
      if (values.json) out.stdout(JSON.stringify(result));
      else if (result.notRun === 'disabled') out.stdout('Nothing generated: the Message Center is switched off in Koha.');
      else
        out.stdout(
          `${result.dryRun ? 'Would create' : 'Created'} ${result.created} ${result.type} notice(s) for ${result.date}; skipped ${result.skipped}, ${result.duplicates} duplicate(s).`,
        );
      return 0;
    });
  }
  throw new UsageError('kmc routines takes no argument (the list) or run NAME');
}

export async function messageCommand(rest: string[], open: OpenServices, out: Out): Promise<number> {
  const { values } = parseArgs({
    args: rest,
    options: {
      borrower: { type: 'string' },
      channel: { type: 'string' },
      text: { type: 'string' },
      subject: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (!values.borrower || !/^\d+$/.test(values.borrower)) throw new UsageError('kmc message needs --borrower N');
  const channel = values.channel;
  if (channel !== 'email' && channel !== 'sms') throw new UsageError('kmc message needs --channel email or --channel sms');
  const text = values.text;
  if (!text?.trim()) throw new UsageError('kmc message needs --text "..."');
  return open(async (s) => {
    const result = await sendStaffMessage(s.notices, {
      borrowernumber: Number(values.borrower),
      channel,
      text,
      subject: values.subject ?? null,
      actor: 'cli',
    });
    if (values.json) out.stdout(JSON.stringify(result));
    else
      out.stdout(
        `message #${result.id} to patron ${values.borrower} by ${result.channel}: ${result.status}${result.statusReason ? ` (${result.statusReason})` : ''}`,
      );
    return 0;
  });
}
