/**
 * What every notice generator is handed: its dependencies, passed in by the
 * composition root, never imported from globals.
 */
import type { HostReader, Branch, PatronContact } from '../host';
import type { EmailGate, MessageStore, QuietHoursSource } from '../queue';
import type { RunStore } from '../runs';
import type { RuleStore } from '../rules';
import { languageCandidates, type NoticeRenderer } from '../rendering';
import type { Logger } from '../logging';
import type { Settings } from '../config';
import type { ChannelName } from '../kernel';
import type { BranchSettingsRow, BranchSettingsStore } from '../branches';
import type { SettingsReader } from '../settings';
import { cutToFit } from '../queue';
import { patronEmail } from '../contact';

import type { Clock } from '../kernel';
export { systemClock, type Clock } from '../kernel';

export type { EmailGate, EmailGateState } from '../queue';

/** The branches' own settings as a run reads them: every branch's row, and the SMS quiet hours. */
export type BranchSettingsSource = Pick<BranchSettingsStore, 'all'> & QuietHoursSource;

export interface NoticeDeps {
  host: HostReader;
  /** The branches' own settings (sender, reply-to, letter address, language, quiet hours). */
  branches: BranchSettingsSource;
  /** The settings staff change on the pages (the rules branch, the currency). */
  staffSettings: Pick<SettingsReader, 'values'>;
  store: MessageStore;
  /** The run log: every run is recorded there. */
  runs: RunStore;
  rules: RuleStore;
  renderer: NoticeRenderer;
  logger: Logger;
  clock: Clock;
  settings: Pick<Settings, 'defaultCountry' | 'mailFrom' | 'pluginClass' | 'timezone'> & Partial<Pick<Settings, 'runHeartbeatMs'>>;
  /** Channels that have an adapter set up; a channel without one is passed over. */
  availableChannels: ChannelName[];
  emailGate?: EmailGate;
  /** Which branches can send SMS (read once per run); without it every branch can when SMS is set up. */
  smsAvailability?: () => Promise<{ canSend(branchcode: string | null): boolean }>;
}

/** Everything about branches a run needs, read once per run. */
export class BranchDirectory {
  constructor(
    private readonly branches: Map<string, Branch>,
    private readonly own: Map<string, BranchSettingsRow>,
    private readonly mailFrom: string,
  ) {}

  static async load(deps: {
    host: Pick<HostReader, 'branches'>;
    branches: Pick<BranchSettingsStore, 'all'>;
    settings: Pick<Settings, 'mailFrom'>;
  }): Promise<BranchDirectory> {
    const [branches, rows] = await Promise.all([deps.host.branches(), deps.branches.all()]);
    return new BranchDirectory(branches, new Map(rows.map((r) => [r.branchcode, r])), deps.settings.mailFrom);
  }

  branch(code: string | null): Branch | null {
    return (code && this.branches.get(code)) || null;
  }

  /** The sidecar's own setting first, then the branch's address in Koha, then the library default. */
  senderEmail(code: string | null): string {
    return this.own.get(code ?? '')?.sender_email || this.branch(code)?.branchemail || this.mailFrom;
  }

  replyTo(code: string | null): string | null {
    return this.own.get(code ?? '')?.reply_to || this.branch(code)?.branchreplyto || null;
  }

  defaultLang(code: string | null): string | null {
    return this.own.get(code ?? '')?.default_lang ?? null;
  }

  excludedFromAutomatedRuns(code: string | null): boolean {
    return !!this.own.get(code ?? '')?.excluded_from_automated_runs;
  }

  letterAddress(code: string | null): string {
    const own = this.own.get(code ?? '')?.letter_address;
    if (own) return own;
    const b = this.branch(code);
    if (!b) return '';
    return [b.branchaddress1, b.branchaddress2, [b.branchzip, b.branchcity].filter(Boolean).join(' ')]
      .filter((l) => l && l.trim())
      .join('\n');
  }

  /** Plain data about a branch for templates. */
  templateData(code: string | null): Record<string, string> {
    const b = this.branch(code);
    return {
      code: code ?? '',
      // Koha keeps these as LONGTEXT: a notice shows a sensible length of them.
      name: cutToFit(b?.branchname ?? '', { chars: 200 }),
      email: this.senderEmail(code),
      phone: cutToFit(b?.branchphone ?? '', { chars: 50 }),
      address: cutToFit(this.letterAddress(code), { chars: 1000 }),
    };
  }

  langsFor(patron: Pick<PatronContact, 'lang' | 'branchcode'>): string[] {
    return languageCandidates(patron.lang, this.defaultLang(patron.branchcode));
  }
}

export function patronTemplateData(p: PatronContact): Record<string, string> {
  return {
    borrowernumber: String(p.borrowernumber),
    cardnumber: p.cardnumber ?? '',
    firstname: p.firstname ?? '',
    surname: p.surname ?? '',
    title: p.title ?? '',
    email: patronEmail(p) ?? '',
  };
}
