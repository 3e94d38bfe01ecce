/**
 * E-mail verification: no notice goes to an address the patron has not
 * confirmed.
 *
 * - The scan compares Koha's address columns with the state kept in
 *   kmc_email_verifications. The database compares fingerprints, so only
 *   patrons whose addresses changed leave it; they are handled in batches.
 *   The first scan after installation takes the addresses already there as
 *   verified: they came from the library's own records.
 * - A new or changed address becomes `pending` and gets a verification mail
 *   (a message like any other: queued, delivered, archived) with a signed,
 *   single-use link. Only the link's hash is kept.
 * - The gate tells the notice generators to hold e-mail for a pending
 *   address and to pass an expired one over; verifying releases what waits.
 * - Expiry: the address is never used; what waited goes by the next channel.
 */
import { toDbTime, fromDbTime } from '../db';
import { ConflictError, NotFoundError } from '../errors';
import type { EmailChangeRow, HostReader, PatronContact } from '../host';
import type { MessageStore, NewMessage } from '../queue';
import type { RuleStore } from '../rules';
import { asKohaDateFormat, formatKohaDate, type NoticeRenderer } from '../rendering';
import type { Logger } from '../logging';
import type { Settings } from '../config';
import { libraryDay, type ChannelName, type Clock } from '../kernel';
import { patronEmail } from '../contact';
import { BranchDirectory, type BranchSettingsSource, type EmailGate, type EmailGateState } from '../notices';
import type { SettingsReader } from '../settings';
import { loadVerificationSettings, SETTING, type VerificationSettings } from './settings';
import { addressFingerprint, createVerificationToken, isSignedToken, sameHash, tokenHash } from './tokens';
import { sendHeldByNextChannel } from './held';
import {
  KOHA_EMAIL_COLUMNS,
  type GuardedChange,
  type VerificationChange,
  type VerificationRow,
  type VerificationState,
  type VerificationStore,
} from './store';

export type { VerificationRow, VerificationState } from './store';

export interface VerificationDeps {
  /** The verification tables (all their SQL). */
  records: VerificationStore;
  /** The verification settings staff change on the pages, and the first scan's moment. */
  staffSettings: SettingsReader & { setOnce(name: string, value: string): Promise<void> };
  /** The branches' own settings (sender, language, quiet hours). */
  branches: BranchSettingsSource;
  host: HostReader;
  store: MessageStore;
  rules: RuleStore;
  renderer: NoticeRenderer;
  logger: Logger;
  clock: Clock;
  settings: Pick<Settings, 'publicUrl' | 'secret' | 'mailFrom' | 'timezone' | 'defaultCountry' | 'pluginClass'>;
  availableChannels: ChannelName[];
  /** Which branches can send SMS; without it every branch can when SMS is set up. */
  smsAvailability?: () => Promise<{ canSend(branchcode: string | null): boolean }>;
}

export interface ScanResult {
  /** True when this scan took the existing addresses as verified (the first scan). */
  baseline: boolean;
  /** Patrons whose addresses the database reported as new or changed. */
  checked: number;
  linksSent: number;
  verified: number;
  exempt: number;
  unchanged: number;
  noAddress: number;
  expired: number;
  released: number;
  fallback: Record<string, number>;
  missingContact: number;
  clearedInKoha: number;
  /** Why nothing was done: the Message Center is switched off in Koha. */
  notRun?: 'disabled';
}

/** What a link is worth: on the page, each gets its own plain sentence. */
export type TokenOutcome = 'valid' | 'expired' | 'used' | 'invalid';

export interface PatronVerificationState {
  borrowernumber: number;
  /** `unchecked`: Koha's address differs from what the last scan saw (a scan will send a link). */
  state: VerificationState | 'unchecked';
  /** The address notices would use, from Koha; null when there is none. */
  email: string | null;
  usable: boolean;
  sent_at: string | null;
  expires_at: string | null;
  verified_at: string | null;
  verified_by: string | null;
}

const BATCH = 500;
const VERIFIED_BY_BASELINE = 'existing address (first scan)';
const HELD_RELEASED = 'e-mail address verified';
const TOKEN_IN_TEXT = /\/verify\/[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{22}/g;
const LINK_REMOVED = '/verify/[link removed]';
/** Message statuses after which a verification mail will not be sent (again). */
const FINAL = ['sent', 'delivered', 'bounced', 'failed', 'cancelled', 'missing_contact'];

type Decision =
  | { kind: 'none' }
  | { kind: 'verified'; email: string }
  | { kind: 'exempt'; email: string }
  | { kind: 'same'; email: string }
  | { kind: 'pending'; email: string; token: string; hash: string; version: number };

export class VerificationService {
  private baselineKnown = false;
  readonly gate: EmailGate;

  constructor(private readonly deps: VerificationDeps) {
    this.gate = { check: (patrons) => this.check(patrons) };
  }

  settings(): Promise<VerificationSettings> {
    return loadVerificationSettings(this.deps.staffSettings);
  }

  /** Whether the first scan has run; until it has, every address is usable. */
  async baselineTaken(): Promise<boolean> {
    if (this.baselineKnown) return true;
    this.baselineKnown = await this.deps.staffSettings.has(SETTING.baselineAt);
    return this.baselineKnown;
  }

  // -------------------------------------------------------------------------
  // The gate

  /**
   * For the notice generators: `held` while the address waits for the patron,
   * `expired` once its time ran out. An address the scan has not seen yet
   * (new or changed since the last scan) is held too: the next scan sends
   * its link. Verified and exempt addresses, and everything before the first
   * scan, are usable (absent from the answer).
   */
  async check(patrons: Array<{ borrowernumber: number; email: string }>): Promise<Map<number, EmailGateState>> {
    const out = new Map<number, EmailGateState>();
    if (!patrons.length || !(await this.baselineTaken())) return out;
    const now = this.deps.clock.now().getTime();
    const ids = [...new Set(patrons.map((p) => p.borrowernumber))];
    const rows = new Map((await this.deps.records.gateRows(ids)).map((r) => [r.borrowernumber, r]));
    for (const p of patrons) {
      const row = rows.get(p.borrowernumber);
      if (!row || row.email !== p.email) {
        out.set(p.borrowernumber, 'held');
        continue;
      }
      if (row.state === 'expired') out.set(p.borrowernumber, 'expired');
      else if (row.state === 'pending') {
        const expires = fromDbTime(row.expires_at)?.getTime() ?? 0;
        out.set(p.borrowernumber, expires <= now ? 'expired' : 'held');
      }
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // The scan

  async scan(opts: { actor?: string } = {}): Promise<ScanResult> {
    const actor = opts.actor ?? 'verification';
    const result: ScanResult = {
      baseline: false,
      checked: 0,
      linksSent: 0,
      verified: 0,
      exempt: 0,
      unchanged: 0,
      noAddress: 0,
      expired: 0,
      released: 0,
      fallback: {},
      missingContact: 0,
      clearedInKoha: 0,
    };
    if (!(await this.deps.host.isEnabled(this.deps.settings.pluginClass))) {
      this.deps.logger.info('verification.scan_skipped_disabled', {});
      return { ...result, notRun: 'disabled' };
    }
    const cfg = await this.settings();
    const started = Date.now();
    const baseline = !(await this.baselineTaken());
    result.baseline = baseline;

    await this.expireDue(cfg, result, actor);

    const directory = await BranchDirectory.load(this.deps);
    const prefs = await this.deps.host.systemPreferences(['dateformat']);
    const dateFormat = asKohaDateFormat(prefs.dateformat);
    await this.deps.renderer.refresh();
    const ctx = { cfg, baseline, directory, dateFormat, actor };

    let batch: EmailChangeRow[] = [];
    for await (const row of this.deps.host.streamEmailChanges()) {
      batch.push(row);
      if (batch.length >= BATCH) {
        await this.handleBatch(batch, ctx, result);
        batch = [];
      }
    }
    if (batch.length) await this.handleBatch(batch, ctx, result);

    if (baseline) {
      await this.deps.staffSettings.setOnce(SETTING.baselineAt, this.deps.clock.now().toISOString());
      this.baselineKnown = true;
      this.deps.logger.info('verification.baseline_taken', { verified: result.verified, exempt: result.exempt });
    }
    await this.sweepHeld(result, actor);
    await this.tidy();
    this.deps.logger.info('verification.scan_finished', {
      baseline,
      checked: result.checked,
      linksSent: result.linksSent,
      expired: result.expired,
      released: result.released,
      ms: Date.now() - started,
    });
    return result;
  }

  private decide(row: EmailChangeRow, cfg: VerificationSettings, baseline: boolean): Decision {
    const email = patronEmail(row as unknown as PatronContact);
    if (!email) return { kind: 'none' };
    const exempt = cfg.exemptCategories.has(row.categorycode);
    if (baseline) return exempt ? { kind: 'exempt', email } : { kind: 'verified', email };
    const known = row.v_borrowernumber !== null && row.v_email === email;
    if (known) {
      // The address is the one recorded; something else changed (another column, the category).
      // Moved into an exempt category: a waiting or expired address needs no verification after all.
      if ((row.v_state === 'pending' || row.v_state === 'expired') && exempt) return { kind: 'exempt', email };
      if (!(row.v_state === 'pending' && row.v_message_id === null)) return { kind: 'same', email };
      // A link was recorded but its mail never stored (the sidecar stopped in between): a new link.
    }
    if (exempt) return { kind: 'exempt', email };
    const token = createVerificationToken(this.deps.settings.secret);
    return { kind: 'pending', email, token, hash: tokenHash(token), version: (row.v_token_version ?? 0) + 1 };
  }

  private async handleBatch(
    rows: EmailChangeRow[],
    ctx: {
      cfg: VerificationSettings;
      baseline: boolean;
      directory: BranchDirectory;
      dateFormat: ReturnType<typeof asKohaDateFormat>;
      actor: string;
    },
    result: ScanResult,
  ): Promise<void> {
    const at = this.deps.clock.now();
    const now = toDbTime(at);
    const expiresAt = new Date(at.getTime() + ctx.cfg.validDays * 86_400_000);
    const decided = rows.map((row) => ({ row, d: this.decide(row, ctx.cfg, ctx.baseline) }));
    result.checked += rows.length;

    const record = (row: EmailChangeRow, d: Decision): VerificationChange => {
      if (d.kind === 'same') return { source_hash: row.source_hash, updated_at: now };
      // Whatever link there was is gone with this change (its mail is dealt with below).
      const base = { source_hash: row.source_hash, updated_at: now, link_in_archive: 0 };
      switch (d.kind) {
        case 'none':
          return {
            ...base,
            email: '',
            state: 'none',
            token_hash: null,
            sent_at: null,
            expires_at: null,
            verified_at: null,
            verified_by: null,
            message_id: null,
            used_at: null,
          };
        case 'verified':
          return {
            ...base,
            email: d.email,
            state: 'verified',
            token_hash: null,
            sent_at: null,
            expires_at: null,
            verified_at: now,
            verified_by: VERIFIED_BY_BASELINE,
            message_id: null,
            used_at: null,
          };
        case 'exempt':
          return {
            ...base,
            email: d.email,
            state: 'exempt',
            token_hash: null,
            sent_at: null,
            expires_at: null,
            verified_at: now,
            verified_by: `category ${row.categorycode}`.slice(0, 64),
            message_id: null,
            used_at: null,
          };
        case 'pending':
          return {
            ...base,
            email: d.email,
            state: 'pending',
            token_hash: d.hash,
            token_version: d.version,
            sent_at: now,
            expires_at: toDbTime(expiresAt),
            verified_at: null,
            verified_by: null,
            message_id: null,
            used_at: null,
            lang: ctx.directory.langsFor(row)[0] ?? null,
          };
      }
    };

    // Writes are guarded by what was read, so two sidecars scanning at once never both send a link.
    const inserts = decided
      .filter((x) => x.row.v_borrowernumber === null)
      .map((x) => ({ borrowernumber: x.row.borrowernumber, created_at: now, token_version: 0, ...record(x.row, x.d) }));
    const updates: GuardedChange[] = decided
      .filter((x) => x.row.v_borrowernumber !== null)
      .map(({ row, d }) => ({
        borrowernumber: row.borrowernumber,
        tokenVersion: row.v_token_version ?? 0,
        sourceHash: row.v_source_hash,
        change: record(row, d),
      }));
    await this.deps.records.recordScan(inserts, updates, BATCH);

    // The mail of a link this change made worthless: cancelled if unsent, its link removed either way.
    const superseded = decided.filter((x) => x.row.v_message_id && x.d.kind !== 'same').map((x) => Number(x.row.v_message_id));
    if (superseded.length) await this.retireLinks(superseded, 'the address changed: this link no longer counts', ctx.actor);

    for (const { d } of decided) {
      if (d.kind === 'verified') result.verified += 1;
      else if (d.kind === 'exempt') result.exempt += 1;
      else if (d.kind === 'same') result.unchanged += 1;
      else if (d.kind === 'none') result.noAddress += 1;
    }

    // Notices held for an address that turns out to need no verification go now.
    const usable = decided.filter((x) => x.d.kind === 'verified' || x.d.kind === 'exempt') as Array<{
      row: EmailChangeRow;
      d: { kind: 'verified' | 'exempt'; email: string };
    }>;
    if (usable.length) {
      result.released += await this.deps.store.releaseVerifiedEmail(
        usable.map((x) => ({ borrowernumber: x.row.borrowernumber, email: x.d.email })),
        at,
        ctx.actor,
        ctx.baseline
          ? 'e-mail address taken as verified by the first scan'
          : "e-mail address needs no verification (the patron's category is exempt)",
      );
    }
    const gone = decided.filter((x) => x.d.kind === 'none' && x.row.v_state === 'pending').map((x) => x.row.borrowernumber);
    if (gone.length) this.addFallback(result, await sendHeldByNextChannel(this.deps, gone, 'removed', at, ctx.actor));

    const pending = decided.filter((x) => x.d.kind === 'pending') as Array<{
      row: EmailChangeRow;
      d: Extract<Decision, { kind: 'pending' }>;
    }>;
    if (pending.length) await this.sendLinks(pending, ctx, at, expiresAt, result);
  }

  /** Verification mails for the links this scan recorded (and only those it won). */
  private async sendLinks(
    pending: Array<{ row: EmailChangeRow; d: Extract<Decision, { kind: 'pending' }> }>,
    ctx: { directory: BranchDirectory; dateFormat: ReturnType<typeof asKohaDateFormat>; actor: string; cfg: VerificationSettings },
    at: Date,
    expiresAt: Date,
    result: ScanResult,
  ): Promise<void> {
    const ours = new Set<number>();
    const hashOf = await this.deps.records.tokenHashes(pending.map((p) => p.row.borrowernumber));
    for (const p of pending) if (sameHash(hashOf.get(p.row.borrowernumber), p.d.hash)) ours.add(p.row.borrowernumber);

    const expiresText = this.localDateTime(expiresAt, ctx.dateFormat);
    const messages: NewMessage[] = [];
    for (const { row, d } of pending) {
      if (!ours.has(row.borrowernumber)) continue;
      const link = `${this.deps.settings.publicUrl}/verify/${d.token}`;
      const rendered = this.deps.renderer.render({
        type: 'email_verification',
        channel: 'email',
        langs: ctx.directory.langsFor(row),
        branchcode: row.branchcode,
        data: { branch: ctx.directory.templateData(row.branchcode), link, expires: expiresText, valid_days: ctx.cfg.validDays },
      });
      messages.push({
        idempotencyKey: `email_verification:0:${row.borrowernumber}:${addressFingerprint(d.email)}:${d.version}`,
        messageType: 'email_verification',
        level: 0,
        borrowernumber: row.borrowernumber,
        branchcode: row.branchcode,
        channel: 'email',
        // Never held: this mail is how the address becomes verified.
        status: 'pending',
        to: d.email,
        from: ctx.directory.senderHeader(row.branchcode),
        replyTo: ctx.directory.replyToHeader(row.branchcode),
        lang: rendered.lang,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        fee: 0,
        runId: null,
        ruleId: null,
        items: [],
      });
    }
    if (!messages.length) return;
    await this.deps.store.insertMessages(messages, at, ctx.actor);
    const idRows = await this.deps.records.mailIdsByKey(messages.map((m) => m.idempotencyKey));
    const hashByPatron = new Map(pending.map((p) => [p.row.borrowernumber, p.d.hash]));
    // The page answers in the language the mail was written in.
    const langByKey = new Map(messages.map((m) => [m.idempotencyKey, m.lang]));
    for (const r of idRows) {
      const hash = hashByPatron.get(r.borrowernumber);
      if (!hash) continue;
      await this.deps.records.linkQueued(r.borrowernumber, hash, r.id, langByKey.get(r.idempotency_key) ?? null);
      this.deps.logger.info('verification.link_queued', { borrowernumber: r.borrowernumber, messageId: r.id });
    }
    result.linksSent += idRows.length;
  }

  /** Pending links whose time ran out: the address is never used; what waited goes by the next channel. */
  private async expireDue(cfg: VerificationSettings, result: ScanResult, actor: string): Promise<void> {
    for (;;) {
      const at = this.deps.clock.now();
      const now = toDbTime(at);
      const due = await this.deps.records.duePending(now, BATCH);
      if (!due.length) return;
      const expired: typeof due = [];
      for (const row of due) if (await this.deps.records.expire(row.borrowernumber, row.token_hash, now)) expired.push(row);
      result.expired += expired.length;
      for (const row of expired) this.deps.logger.info('verification.expired', { borrowernumber: row.borrowernumber });
      const links = expired
        .map((r) => r.message_id)
        .filter((id): id is number => !!id)
        .map(Number);
      if (links.length) await this.retireLinks(links, 'the link expired', actor);
      this.addFallback(
        result,
        await sendHeldByNextChannel(
          this.deps,
          expired.map((r) => r.borrowernumber),
          'expired',
          at,
          actor,
        ),
      );
      if (cfg.clearExpiredInKoha) {
        for (const row of expired) result.clearedInKoha += await this.clearInKoha(row.borrowernumber, row.email);
      }
      if (due.length < BATCH) return;
    }
  }

  /**
   * The one write to a Koha table, off unless verification_clear_expired_in_koha
   * is 1, and it needs its own GRANT (UPDATE (email, emailpro, B_email) ON
   * borrowers). Only a column that still holds the expired address is cleared.
   */
  private async clearInKoha(borrowernumber: number, email: string): Promise<number> {
    let cleared = 0;
    for (const column of KOHA_EMAIL_COLUMNS) {
      try {
        if (await this.deps.records.clearAddressInKoha(borrowernumber, column, email)) {
          cleared += 1;
          this.deps.logger.warn('verification.cleared_in_koha', { borrowernumber, column });
        }
      } catch (err) {
        this.deps.logger.error('verification.clear_in_koha_failed', {
          borrowernumber,
          column,
          code: (err as { code?: string }).code ?? 'KMC_INTERNAL',
          error: `${(err as Error).message} (clearing needs GRANT UPDATE (email, emailpro, B_email) ON borrowers)`,
        });
      }
    }
    return cleared ? 1 : 0;
  }

  private addFallback(result: ScanResult, f: { byChannel: Record<string, number>; missingContact: number }): void {
    for (const [channel, n] of Object.entries(f.byChannel)) result.fallback[channel] = (result.fallback[channel] ?? 0) + n;
    result.missingContact += f.missingContact;
  }

  /**
   * Verification mails whose link no longer counts: cancelled if not sent
   * yet (they would carry a worthless link), and the link removed from the
   * stored text either way.
   */
  private async retireLinks(messageIds: number[], detail: string, actor: string): Promise<void> {
    await this.deps.store.cancelUnsentVerificationMails(messageIds, detail, actor, this.deps.clock.now());
    await this.removeLinks(messageIds);
  }

  /** Takes the link out of stored verification mails, so the archive never holds a working token. */
  private async removeLinks(messageIds: number[]): Promise<void> {
    if (!messageIds.length) return;
    await this.deps.records.removeLinkFromMails(messageIds, TOKEN_IN_TEXT, LINK_REMOVED);
    await this.deps.records.linksRemoved(messageIds);
  }

  /**
   * Housekeeping: once a verification mail has left (or can no longer leave),
   * the link in its stored text is removed, so the archive never holds a
   * working token; records of patrons gone from Koha and old failed look-ups
   * are deleted.
   */
  private async tidy(): Promise<void> {
    await this.removeLinks(await this.deps.records.doneMailsWithLink(FINAL, 1000));
    const gone = await this.deps.host.verificationsWithoutPatron(1000);
    if (gone.length) {
      const links = await this.deps.records.linkMailsOf(gone);
      if (links.length) await this.retireLinks(links, 'the patron is no longer in Koha', 'verification');
      await this.deps.records.forget(gone);
    }
    await this.deps.records.forgetFailuresBefore(new Date(this.deps.clock.now().getTime() - 86_400_000));
  }

  /**
   * A safety net after each scan: any e-mail notice still held although its
   * patron's address is now usable goes to the queue, and one whose address
   * expired or is gone goes by the next channel. (Normally the scan, the page
   * and staff confirmation do this at once; this catches what a stop in
   * between, or an address changed back before a scan, left behind.)
   */
  private async sweepHeld(result: ScanResult, actor: string): Promise<void> {
    const rows = await this.deps.records.heldEmailPatrons();
    if (!rows.length) return;
    const at = this.deps.clock.now();
    const usable = rows.flatMap((r) => ((r.state === 'verified' || r.state === 'exempt') && r.email ? [{ ...r, email: r.email }] : []));
    if (usable.length) {
      result.released += await this.deps.store.releaseVerifiedEmail(
        usable.map((r) => ({ borrowernumber: r.borrowernumber, email: r.email })),
        at,
        actor,
        'e-mail address verified',
      );
    }
    const expired = rows.filter((r) => r.state === 'expired').map((r) => r.borrowernumber);
    if (expired.length) this.addFallback(result, await sendHeldByNextChannel(this.deps, expired, 'expired', at, actor));
    const gone = rows.filter((r) => r.state === null || r.state === 'none').map((r) => r.borrowernumber);
    if (gone.length) this.addFallback(result, await sendHeldByNextChannel(this.deps, gone, 'removed', at, actor));
  }

  private localDateTime(at: Date, format: ReturnType<typeof asKohaDateFormat>): string {
    const day = libraryDay(at, this.deps.settings.timezone);
    const time = new Intl.DateTimeFormat('en-GB', {
      timeZone: this.deps.settings.timezone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(at);
    return `${formatKohaDate(day, format)} ${time}`;
  }

  // -------------------------------------------------------------------------
  // Links

  /** What a link is worth, without using it (the page's GET). */
  async inspect(token: string): Promise<{ outcome: TokenOutcome; lang: string | null }> {
    const found = await this.find(token);
    return { outcome: found.outcome, lang: found.row?.lang ?? null };
  }

  private async find(token: string): Promise<{ outcome: TokenOutcome; row: VerificationRow | null; hash: string }> {
    // A link this sidecar did not sign never reaches the database.
    if (!isSignedToken(token, this.deps.settings.secret)) return { outcome: 'invalid', row: null, hash: '' };
    const hash = tokenHash(token);
    const row = await this.deps.records.forTokenHash(hash);
    if (!row || !sameHash(row.token_hash, hash)) return { outcome: 'invalid', row: null, hash };
    if (row.state === 'verified') return { outcome: 'used', row, hash };
    const expired =
      row.state === 'expired' ||
      (row.state === 'pending' && (fromDbTime(row.expires_at)?.getTime() ?? 0) <= this.deps.clock.now().getTime());
    if (expired) return { outcome: 'expired', row, hash };
    if (row.state === 'pending') return { outcome: 'valid', row, hash };
    return { outcome: 'invalid', row: null, hash };
  }

  /**
   * Uses a link (the page's POST): the address becomes verified and the
   * patron's held e-mail notices go to the queue, in one transaction.
   */
  async confirm(
    token: string,
    actor = 'patron (link)',
  ): Promise<{ outcome: 'verified' | Exclude<TokenOutcome, 'valid'>; lang: string | null; released: number }> {
    const found = await this.find(token);
    if (found.outcome !== 'valid' || !found.row)
      return { outcome: found.outcome === 'valid' ? 'invalid' : found.outcome, lang: found.row?.lang ?? null, released: 0 };
    const row = found.row;
    const at = this.deps.clock.now();
    const now = toDbTime(at);
    const released = await this.deps.records.withTransaction(async (trx) => {
      const used = await this.deps.records.useLink(
        { borrowernumber: row.borrowernumber, tokenHash: found.hash, now, by: actor.slice(0, 64) },
        trx,
      );
      if (!used) return null;
      return this.deps.store.releaseVerifiedEmail(
        [{ borrowernumber: row.borrowernumber, email: row.email }],
        at,
        actor.slice(0, 64),
        HELD_RELEASED,
        trx,
      );
    });
    if (released === null) {
      // Someone used it a moment earlier (or it expired in between): say what it is now.
      const again = await this.find(token);
      return { outcome: again.outcome === 'valid' ? 'used' : again.outcome, lang: row.lang, released: 0 };
    }
    this.deps.logger.info('verification.verified', { borrowernumber: row.borrowernumber, released, by: 'link' });
    return { outcome: 'verified', lang: row.lang, released };
  }

  // -------------------------------------------------------------------------
  // Staff

  /**
   * Staff confirm the patron's current address by hand (the patron showed it
   * at the desk, or confirmed by phone). `expected` guards against a change
   * in Koha since staff looked. Held e-mail notices are released at once.
   */
  async markVerified(
    borrowernumber: number,
    by: string,
    expected?: string | null,
  ): Promise<{ borrowernumber: number; state: 'verified'; email: string; released: number }> {
    const patron = await this.deps.host.patron(borrowernumber);
    if (!patron)
      throw new NotFoundError('KMC_PATRON_NOT_FOUND', `there is no patron with borrowernumber ${borrowernumber}`, { borrowernumber });
    const email = patronEmail(patron);
    if (!email)
      throw new ConflictError('KMC_NO_EMAIL_ADDRESS', `patron ${borrowernumber} has no usable e-mail address in Koha`, { borrowernumber });
    if (expected != null && expected.trim() !== email) {
      throw new ConflictError(
        'KMC_EMAIL_CHANGED',
        `patron ${borrowernumber}'s e-mail address in Koha is not the one given; look again and retry`,
        { borrowernumber },
      );
    }
    const actor = by.trim().slice(0, 64) || 'staff';
    const at = this.deps.clock.now();
    const now = toDbTime(at);
    const { released, unsent } = await this.deps.records.withTransaction(async (trx) => {
      const before = await this.deps.records.forPatron(borrowernumber, trx, { forUpdate: true });
      await this.deps.records.markVerified({ borrowernumber, email, now, by: actor }, trx);
      const n = await this.deps.store.releaseVerifiedEmail([{ borrowernumber, email }], at, actor, `${HELD_RELEASED} by staff`, trx);
      return { released: n, unsent: before?.state === 'pending' && before.message_id ? before.message_id : null };
    });
    if (unsent) await this.retireLinks([unsent], 'the address was verified by staff', actor);
    this.deps.logger.info('verification.marked_verified', { borrowernumber, by: actor, released });
    return { borrowernumber, state: 'verified', email, released };
  }

  /** The patron's verification record as kept (the staff patron tab shows it), if the scan has seen the patron. */
  recordOf(borrowernumber: number): Promise<VerificationRow | null> {
    return this.deps.records.forPatron(borrowernumber);
  }

  /** The verification state of a patron's address, for staff (command line, JSON API). */
  stateOf(borrowernumber: number): Promise<PatronVerificationState> {
    return readVerificationState(this.deps, borrowernumber);
  }
}

/**
 * The verification state of a patron's address, for staff. Needs only reads,
 * so the staff API can answer without the whole service.
 */
export async function readVerificationState(
  deps: { records: VerificationStore; staffSettings: Pick<SettingsReader, 'has'>; host: Pick<HostReader, 'patron'>; clock: Clock },
  borrowernumber: number,
): Promise<PatronVerificationState> {
  const [row, patron, flag] = await Promise.all([
    deps.records.forPatron(borrowernumber),
    deps.host.patron(borrowernumber),
    deps.staffSettings.has(SETTING.baselineAt),
  ]);
  const email = patron ? patronEmail(patron) : null;
  const base = { borrowernumber, email, sent_at: null, expires_at: null, verified_at: null, verified_by: null };
  if (!email) return { ...base, state: 'none', usable: false };
  // Before the first scan every address is used; after it, an address the scan has not seen waits.
  if (!row || row.email !== email) return { ...base, state: 'unchecked', usable: !flag };
  let state: VerificationState = row.state;
  if (state === 'pending' && (fromDbTime(row.expires_at)?.getTime() ?? 0) <= deps.clock.now().getTime()) state = 'expired';
  return {
    ...base,
    state,
    usable: state === 'verified' || state === 'exempt',
    sent_at: row.sent_at,
    expires_at: row.expires_at,
    verified_at: row.verified_at,
    verified_by: row.verified_by,
  };
}
