/**
 * What every notice generator is handed: its dependencies, passed in by the
 * composition root, never imported from globals.
 */
import type { HostReader, Branch, PatronContact } from '../host';
import type { ClosedDaySource, EmailGate, MessageStore, QuietHoursSource } from '../queue';
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
import { SENDER_PREFERENCES, branchAddresses, type BranchAddresses, type RefusedAddress } from '../addresses';

import type { Clock } from '../kernel';
export { systemClock, type Clock } from '../kernel';

export type { EmailGate, EmailGateState } from '../queue';

/** The branches' own settings as a run reads them: every branch's row, the SMS quiet hours and the closed-day holds. */
export type BranchSettingsSource = Pick<BranchSettingsStore, 'all'> & QuietHoursSource & ClosedDaySource;

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
  settings: Pick<Settings, 'defaultCountry' | 'mailFrom' | 'pluginClass' | 'timezone'> &
    Partial<Pick<Settings, 'runHeartbeatMs' | 'firstRun'>>;
  /** Channels that have an adapter set up; a channel without one is passed over. */
  availableChannels: ChannelName[];
  emailGate?: EmailGate;
  /** Which branches can send SMS (read once per run); without it every branch can when SMS is set up. */
  smsAvailability?: () => Promise<{ canSend(branchcode: string | null): boolean }>;
}

/** Koha's preferences that decide a notice's language. */
export const LANGUAGE_PREFERENCES = ['TranslateNotices', 'language'] as const;

/**
 * Koha reads `TranslateNotices` as on when it holds anything but 0 or empty.
 * A database without the preference at all (not a Koha install) keeps the
 * patron's language, as the sidecar did before it read the preference.
 */
export function translatesNotices(value: string | null | undefined): boolean {
  if (value === null || value === undefined) return true;
  return value.trim() !== '' && value.trim() !== '0';
}

/** The library's default language: the first of Koha's `language` preference (e.g. "sv-SE,en"). */
export function libraryLanguage(value: string | null | undefined): string | null {
  return value?.split(',')[0]?.trim() || null;
}

/** Everything about branches a run needs, read once per run. */
export class BranchDirectory {
  private readonly addressCache = new Map<string, BranchAddresses>();
  private readonly templateCache = new Map<string, Readonly<Record<string, string>>>();
  /** The From and Reply-To header of each branch's e-mail: a run asks for them for every message. */
  private readonly headerCache = new Map<string, { from: string; replyTo: string | null }>();

  constructor(
    private readonly branches: Map<string, Branch>,
    private readonly own: Map<string, BranchSettingsRow>,
    private readonly mailFrom: string,
    /** Koha's system preferences that name the library's addresses (KohaAdminEmailAddress, ReplytoDefault, ReturnpathDefault). */
    private readonly preferences: Record<string, string | null> = {},
  ) {}

  static async load(deps: {
    host: Pick<HostReader, 'branches' | 'systemPreferences'>;
    branches: Pick<BranchSettingsStore, 'all'>;
    settings: Pick<Settings, 'mailFrom'>;
  }): Promise<BranchDirectory> {
    const [branches, rows, preferences] = await Promise.all([
      deps.host.branches(),
      deps.branches.all(),
      deps.host.systemPreferences([...SENDER_PREFERENCES, ...LANGUAGE_PREFERENCES]),
    ]);
    return new BranchDirectory(branches, new Map(rows.map((r) => [r.branchcode, r])), deps.settings.mailFrom, preferences);
  }

  branch(code: string | null): Branch | null {
    return (code && this.branches.get(code)) || null;
  }

  /** The sender, reply-to and return path in force for a branch, each checked, with the refused candidates. */
  addresses(code: string | null): BranchAddresses {
    const key = code ?? '';
    let found = this.addressCache.get(key);
    if (!found) {
      found = branchAddresses({
        own: this.own.get(key) ?? null,
        branch: this.branch(code),
        preferences: this.preferences,
        mailFrom: this.mailFrom,
      });
      this.addressCache.set(key, found);
    }
    return found;
  }

  /** Every candidate refused for a branch: its sender, reply-to and return path. */
  refusedAddresses(code: string | null): RefusedAddress[] {
    const a = this.addresses(code);
    return [...a.sender.refused, ...a.replyTo.refused, ...a.returnPath.refused];
  }

  /** Every branch with a refused address, with what was refused (Koha's branches, then the library-wide candidates). */
  allRefused(): Array<{ branchcode: string | null; refused: RefusedAddress[] }> {
    const out: Array<{ branchcode: string | null; refused: RefusedAddress[] }> = [];
    for (const code of [...this.branches.keys()].sort()) {
      const refused = this.refusedAddresses(code);
      if (refused.length) out.push({ branchcode: code, refused });
    }
    return out;
  }

  /**
   * The sender in force: the sidecar's own setting, the branch's address in Koha, KohaAdminEmailAddress, KMC_MAIL_FROM;
   * each checked, a refused one passed over. Empty when none passes (the message then fails with the reason, unsent).
   */
  senderEmail(code: string | null): string {
    return this.addresses(code).sender.address ?? '';
  }

  replyTo(code: string | null): string | null {
    return this.addresses(code).replyTo.address;
  }

  /** The header From of a branch's e-mail: its name and the sender in force (`Branch Name <address>`), so patrons see who writes. */
  senderHeader(code: string | null): string {
    return this.headers(code).from;
  }

  /** Replies go to the branch: its reply-to in force, else its sender, with its name. */
  replyToHeader(code: string | null): string | null {
    return this.headers(code).replyTo;
  }

  private headers(code: string | null): { from: string; replyTo: string | null } {
    const key = code ?? '';
    let found = this.headerCache.get(key);
    if (!found) {
      const name = this.branch(code)?.branchname ?? null;
      const replyTo = this.replyTo(code) ?? this.addresses(code).sender.address;
      found = { from: withBranchName(name, this.senderEmail(code)), replyTo: replyTo ? withBranchName(name, replyTo) : null };
      this.headerCache.set(key, found);
    }
    return found;
  }

  returnPath(code: string | null): string | null {
    return this.addresses(code).returnPath.address;
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

  /** Plain data about a branch for templates: made once per branch (a run asks for it for every message), and frozen, being shared. */
  templateData(code: string | null): Readonly<Record<string, string>> {
    const key = code ?? '';
    let data = this.templateCache.get(key);
    if (!data) {
      const b = this.branch(code);
      data = Object.freeze({
        code: key,
        // Koha keeps these as LONGTEXT: a notice shows a sensible length of them.
        name: cutToFit(b?.branchname ?? '', { chars: 200 }),
        email: this.senderEmail(code),
        phone: cutToFit(b?.branchphone ?? '', { chars: 50 }),
        address: cutToFit(this.letterAddress(code), { chars: 1000 }),
      });
      this.templateCache.set(key, data);
    }
    return data;
  }

  /**
   * The languages to render a patron's notice in, best first. With Koha's
   * `TranslateNotices` off Koha sends every patron its default letters, so
   * the patron's own language is passed over for the library's default (the
   * first of Koha's `language` preference).
   */
  langsFor(patron: Pick<PatronContact, 'lang' | 'branchcode'>): string[] {
    if (!translatesNotices(this.preferences.TranslateNotices)) {
      return languageCandidates(libraryLanguage(this.preferences.language), this.defaultLang(patron.branchcode));
    }
    return languageCandidates(patron.lang, this.defaultLang(patron.branchcode));
  }
}

/** A display name that passes the sender check: no quotes, angle brackets or control characters, and short. */
export function withBranchName(name: string | null, address: string): string {
  if (!address) return '';
  const clean = (name ?? '')
    // eslint-disable-next-line no-control-regex -- control characters are what is removed
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029"<>]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100)
    .trim();
  return clean ? `${clean} <${address}>` : address;
}

/** `email` is the patron's notice address when the caller already has it (patronEmail). */
export function patronTemplateData(p: PatronContact, email: string | null = patronEmail(p)): Record<string, string> {
  return {
    borrowernumber: String(p.borrowernumber),
    cardnumber: p.cardnumber ?? '',
    firstname: p.firstname ?? '',
    surname: p.surname ?? '',
    title: p.title ?? '',
    email: email ?? '',
  };
}
