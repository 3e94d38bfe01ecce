/**
 * Settings per branch (kmc_branch_settings): the sender and reply-to
 * addresses, the address printed on letters, the default language, the SMS
 * account and sender, SMS quiet hours, whether automated runs leave the
 * branch out, and its mail identity (bounce domain, DKIM key). This module owns that table's SQL; everyone else asks it.
 */
import type { Knex } from 'knex';

/** One branch's row, as the table keeps it (TIME columns come back as 'HH:MM:SS'). */
export interface BranchSettingsRow {
  branchcode: string;
  sender_email: string | null;
  reply_to: string | null;
  letter_address: string | null;
  default_lang: string | null;
  sms_enabled: number;
  sms_url: string | null;
  sms_sender: string | null;
  quiet_from: string | null;
  quiet_to: string | null;
  excluded_from_automated_runs: number;
  bounce_domain: string | null;
  dkim_domain: string | null;
  dkim_selector: string | null;
  dkim_private_key: string | null;
  /** Message types whose SMS and e-mail wait on the branch's closed days, comma between; null for none. */
  closed_day_hold: string | null;
  updated_at: string;
}

/** A branch's own mail identity as staff set it; an empty private key keeps the stored one. */
export interface BranchMailInput {
  bounce_domain: string | null;
  dkim_domain: string | null;
  dkim_selector: string | null;
  /** PEM; null keeps the stored key, '' removes it. */
  dkim_private_key: string | null;
}

/** What delivery uses of a branch's mail identity. */
export interface BranchMail {
  branchcode: string;
  bounceDomain: string | null;
  dkim: { domain: string; selector: string; privateKey: string } | null;
}

/** What staff set on the settings page (times as 'HH:MM'). */
export interface BranchSettingsInput {
  sender_email: string | null;
  reply_to: string | null;
  letter_address: string | null;
  default_lang: string | null;
  sms_enabled: boolean;
  sms_url: string | null;
  sms_sender: string | null;
  quiet_from: string | null;
  quiet_to: string | null;
}

/** A branch's own SMS account, as the SMS channel routes by it. */
export interface BranchSmsAccount {
  branchcode: string;
  enabled: boolean;
  url: string | null;
  sender: string | null;
}

/** A branch's closed-day hold: the message types that wait on its closed days. */
export interface BranchClosedDayHold {
  branchcode: string;
  messageTypes: string[];
}

/** The stored list as message types, without blanks or repeats. */
export function closedDayHoldTypes(stored: string | null | undefined): string[] {
  return [
    ...new Set(
      (stored ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
}

/** A branch's SMS quiet hours ('HH:MM:SS' as stored). */
export interface BranchQuietHours {
  branchcode: string;
  quiet_from: string;
  quiet_to: string;
}

/** How long a branch's mail identity read for sending is trusted before it is read again (another process may change it). */
export const BRANCH_MAIL_REFRESH_MS = 30_000;

export class BranchSettingsStore {
  /** Mail identities read for sending, per branch: e-mail asks for one per message, the table changes seldom. */
  private readonly mailRead = new Map<string, { at: number; mail: Promise<BranchMail | null> }>();

  constructor(
    private readonly knex: Knex,
    private readonly now: () => number = Date.now,
  ) {}

  private table() {
    return this.knex<BranchSettingsRow>('kmc_branch_settings');
  }

  /** Every branch that has settings of its own. */
  all(): Promise<BranchSettingsRow[]> {
    return this.table().select();
  }

  async find(branchcode: string): Promise<BranchSettingsRow | null> {
    return (await this.table().where({ branchcode }).first()) ?? null;
  }

  /** Stores what staff set for a branch (a first save makes its row). */
  async save(branchcode: string, input: BranchSettingsInput): Promise<void> {
    const row = {
      ...input,
      sms_enabled: input.sms_enabled ? 1 : 0,
      quiet_from: input.quiet_from ? `${input.quiet_from}:00` : null,
      quiet_to: input.quiet_to ? `${input.quiet_to}:00` : null,
    };
    await this.table()
      .insert({ branchcode, ...row })
      .onConflict('branchcode')
      .merge(Object.keys(row) as Array<keyof typeof row>);
  }

  /** Stores a branch's mail identity (a first save makes its row). */
  async saveMail(branchcode: string, input: BranchMailInput): Promise<void> {
    const row: Partial<BranchSettingsRow> = {
      bounce_domain: input.bounce_domain,
      dkim_domain: input.dkim_domain,
      dkim_selector: input.dkim_selector,
    };
    if (input.dkim_private_key !== null) row.dkim_private_key = input.dkim_private_key || null;
    await this.table()
      .insert({ branchcode, ...row })
      .onConflict('branchcode')
      .merge(Object.keys(row) as Array<keyof BranchSettingsRow>);
    // Read again after the write too: a send that read the old row meanwhile must not keep it.
    this.mailRead.delete(branchcode);
  }

  /**
   * A branch's mail identity, for the return path and the DKIM signature of its notices: read at most once per
   * BRANCH_MAIL_REFRESH_MS (sooner after this store saves it), messages sent at once sharing one read.
   */
  mail(branchcode: string): Promise<BranchMail | null> {
    const known = this.mailRead.get(branchcode);
    if (known && this.now() - known.at < BRANCH_MAIL_REFRESH_MS) return known.mail;
    const read = { at: this.now(), mail: this.readMail(branchcode) };
    this.mailRead.set(branchcode, read);
    // A failed read is not kept: the next message asks again.
    read.mail.catch(() => {
      if (this.mailRead.get(branchcode) === read) this.mailRead.delete(branchcode);
    });
    return read.mail;
  }

  private async readMail(branchcode: string): Promise<BranchMail | null> {
    const r = await this.table()
      .where({ branchcode })
      .first('branchcode', 'bounce_domain', 'dkim_domain', 'dkim_selector', 'dkim_private_key');
    if (!r) return null;
    return {
      branchcode: r.branchcode,
      bounceDomain: r.bounce_domain || null,
      dkim:
        r.dkim_domain && r.dkim_selector && r.dkim_private_key
          ? { domain: r.dkim_domain, selector: r.dkim_selector, privateKey: r.dkim_private_key }
          : null,
    };
  }

  /** Every branch's mail identity that names a DKIM key (for kmc doctor). */
  async mailWithKeys(): Promise<BranchMail[]> {
    const rows = await this.table()
      .whereNotNull('dkim_private_key')
      .select('branchcode', 'bounce_domain', 'dkim_domain', 'dkim_selector', 'dkim_private_key');
    return rows.map((r) => ({
      branchcode: r.branchcode,
      bounceDomain: r.bounce_domain || null,
      dkim: r.dkim_private_key ? { domain: r.dkim_domain ?? '', selector: r.dkim_selector ?? '', privateKey: r.dkim_private_key } : null,
    }));
  }

  /** The branches' SMS accounts, for the SMS channel's routing (the shape of its account source). */
  async branchAccounts(): Promise<BranchSmsAccount[]> {
    const rows = await this.table().select('branchcode', 'sms_enabled', 'sms_url', 'sms_sender');
    return rows.map((r) => ({
      branchcode: r.branchcode,
      enabled: r.sms_enabled === 1,
      url: r.sms_url || null,
      sender: r.sms_sender || null,
    }));
  }

  /** Stores the message types whose SMS and e-mail wait on the branch's closed days (none: the hold is off). */
  async saveClosedDayHold(branchcode: string, messageTypes: string[]): Promise<void> {
    const value = messageTypes.length ? [...new Set(messageTypes)].sort().join(',') : null;
    await this.table().insert({ branchcode, closed_day_hold: value }).onConflict('branchcode').merge(['closed_day_hold']);
  }

  /** The branches with a closed-day hold on for some message type. */
  async closedDayHolds(): Promise<BranchClosedDayHold[]> {
    const rows = await this.table().whereNotNull('closed_day_hold').select('branchcode', 'closed_day_hold');
    return rows
      .map((r) => ({ branchcode: r.branchcode, messageTypes: closedDayHoldTypes(r.closed_day_hold) }))
      .filter((r) => r.messageTypes.length > 0);
  }

  /** The branches with both ends of their SMS quiet hours set. */
  async quietHours(): Promise<BranchQuietHours[]> {
    const rows = await this.table().whereNotNull('quiet_from').whereNotNull('quiet_to').select('branchcode', 'quiet_from', 'quiet_to');
    return rows.flatMap((r) =>
      r.quiet_from && r.quiet_to ? [{ branchcode: r.branchcode, quiet_from: r.quiet_from, quiet_to: r.quiet_to }] : [],
    );
  }
}
