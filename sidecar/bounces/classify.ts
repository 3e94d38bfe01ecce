/** The bounce classifier: what a message that came back to our return path says about the notice that caused it. */
import type { Attachment } from 'mailparser';
import { isAutoReply } from './autoreply';
import { readDeliveryStatus, STATUS_CODE, type RecipientStatus } from './delivery-status';
import { firstAddress, firstField, headerBlock, readFields, tidy, type Field } from './fields';
import { isHard, reasonFromStatus, reasonFromWords, reasonOf } from './reasons';
import type { BounceKind, BounceVerdict, ReturnedMessage } from './verdict';

/** mailparser, loaded on the first returned message read (commands that read none never load it). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use
const mailparser = () => require('mailparser') as typeof import('mailparser');

const DSN_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
const ORIGINAL_TYPES = new Set(['message/rfc822', 'message/global', 'text/rfc822-headers', 'message/rfc822-headers', 'text/rfc822']);
const FEEDBACK_TYPES = new Set(['message/feedback-report']);

/** Where a bounce's text stops explaining and starts quoting the returned message. */
const ORIGINAL_MARKER =
  /^[ \t]*(?:[-=_*]{2,}.*(?:original|copy of|returned|below this line|enclosed|undelivered|headers)|.*(?:below this line is a copy|original message follows|returned message follows|original message headers|message headers follow|this is a copy of the message|copy of the original message))/im;

const DAEMON = /^(mailer-daemon|postmaster|mail-daemon|mailer|mdaemon|bounces?|mail ?delivery ?(sub)?system|double-bounce|noreply-dsn)\b/i;
const BOUNCE_SUBJECT =
  /undeliver|undelivered|returned mail|delivery (status notification|failure|failed|has failed|problem|report|notification)|failure notice|mail delivery (failed|failure|system)|could not (be )?deliver|non[- ]?delivery|returned to sender|nicht zustellbar|unzustellbar|mail failure|delivery error|message not delivered|bounce|\bNDR\b|error sending|permanent error|rejected|delayed mail|warning: could not send|mail system error|notification of delivery|unable to deliver|delivery final|\bnot (a )?member\b|メールエラー|不達/i;

/** The remote server answered only after the message's content was sent: a content filter, not the address. */
const AFTER_DATA = /in reply to end of\s+DATA|>>>\s*DATA|SMTP command\s*:?\s*\n\s*DATA|after end of data|after DATA/i;

/** Words of a report that a message could not be delivered, for reports that come from no daemon and name no failure in the subject. */
const FAILURE_WORDS =
  /could not be delivered|undeliverable|delivery (has )?failed|was not delivered|unable to deliver|couldn't be delivered|permanent (fatal )?error|送信できませんでした/i;

function contentOf(a: Attachment): string {
  return a.content.toString('utf8');
}

/** The text before the quoted original, and the quoted original (if the text quotes one). */
function splitAtOriginal(text: string): { report: string; quoted: string } {
  const m = ORIGINAL_MARKER.exec(text);
  if (!m) return { report: text, quoted: '' };
  const lineEnd = text.indexOf('\n', m.index + m[0].length);
  return { report: text.slice(0, m.index), quoted: lineEnd < 0 ? '' : text.slice(lineEnd + 1) };
}

function readOriginal(block: string): ReturnedMessage | null {
  const fields = readFields(headerBlock(block.replace(/^\s+/, '')));
  const messageId = firstField(fields, 'message-id');
  const to = firstField(fields, 'to');
  const from = firstField(fields, 'from');
  if (!messageId && !to && !from) return null;
  const xHeaders: Record<string, string> = {};
  for (const f of fields) if (f.name.startsWith('x-') && !(f.name in xHeaders)) xHeaders[f.name] = f.value;
  return {
    messageId: messageId ? messageId.trim().replace(/^<|>$/g, '') || null : null,
    to: firstAddress(to),
    returnPath: firstAddress(firstField(fields, 'return-path')),
    subject: firstField(fields, 'subject'),
    xHeaders,
  };
}

interface Evidence {
  recipient: string | null;
  status: string | null;
  diagnostic: string | null;
  reason: string | null;
  temporary: boolean;
}

/** Amazon SES notifications arrive as JSON in the body. */
function sesNotification(text: string): { kind: BounceKind; evidence: Evidence } | null {
  const start = text.indexOf('{"notificationType"');
  if (start < 0) return null;
  const end = text.lastIndexOf('}');
  let data: unknown;
  try {
    data = JSON.parse(text.slice(start, end + 1).replace(/\s*\n\s*/g, ''));
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const note = data as Record<string, unknown>;
  const pick = (o: unknown, key: string): unknown =>
    typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
  const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
  const first = (v: unknown): unknown => (Array.isArray(v) ? (v as unknown[])[0] : undefined);
  const type = note.notificationType;
  const evidence: Evidence = { recipient: null, status: null, diagnostic: null, reason: null, temporary: false };
  if (type === 'Bounce') {
    const bounce = note.bounce;
    const who = first(pick(bounce, 'bouncedRecipients'));
    evidence.recipient = firstAddress(str(pick(who, 'emailAddress')));
    evidence.status = str(pick(who, 'status'));
    evidence.diagnostic = str(pick(who, 'diagnosticCode'));
    evidence.temporary = pick(bounce, 'bounceType') !== 'Permanent';
    const sub = str(pick(bounce, 'bounceSubType'));
    evidence.reason =
      reasonFromWords(evidence.diagnostic) ?? reasonFromStatus(evidence.status) ?? (sub === 'NoEmail' ? 'userunknown' : null);
    return { kind: 'soft', evidence };
  }
  if (type === 'Complaint') {
    evidence.recipient = firstAddress(str(pick(first(pick(note.complaint, 'complainedRecipients')), 'emailAddress')));
    evidence.reason = str(pick(note.complaint, 'complaintFeedbackType')) ?? 'abuse';
    return { kind: 'complaint', evidence };
  }
  if (type === 'Delivery') {
    evidence.recipient = firstAddress(str(first(pick(note.delivery, 'recipients'))));
    evidence.diagnostic = str(pick(note.delivery, 'smtpResponse'));
    return { kind: 'delivered', evidence };
  }
  return null;
}

/** Where in a home-made report the failed address stands, in the forms MTAs write it. */
function recipientInText(report: string, ignore: ReadonlySet<string>): { address: string; at: number } | null {
  const patterns = [
    // Postfix, qmail, Yahoo: "<addr>: host said ..." or "<addr>:" on its own line
    /^[ \t]*<([^<>\s]+@[^<>\s]+)>:?/gm,
    // Sendmail transcript "550 <addr>... User unknown", "RCPT TO:<addr>"
    /RCPT TO:\s*<([^<>\s]+@[^<>\s]+)>/gi,
    /<([^<>\s]+@[^<>\s]+)>\.\.\./g,
    // An address alone on its line (Exim, Gmail, Exchange "addr on date", "addr [User unknown]")
    /^[ \t]*"?([^\s<>"@]+@[^\s<>":]+?)"?[ \t]*(?::|on .*|\(.*\)|\[.*\])?[ \t]*$/gm,
    // "... delivering your mail to <addr>."
    /\b(?:to|recipient|address(?:es)?):?\s+<([^<>\s]+@[^<>\s]+)>/gi,
  ];
  for (const pattern of patterns) {
    for (const m of report.matchAll(pattern)) {
      const address = firstAddress(m[1]);
      if (address && !ignore.has(address) && !DAEMON.test(address)) return { address, at: m.index };
    }
  }
  for (const m of report.matchAll(/[^\s<>"'(),;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g)) {
    const address = firstAddress(m[0]);
    if (address && !ignore.has(address) && !DAEMON.test(address)) return { address, at: m.index };
  }
  return null;
}

/** The server's words near where the report names the address: the lines after it, up to a paragraph's end. */
function wordsAfter(report: string, at: number): string {
  const lines = report.slice(report.lastIndexOf('\n', at) + 1).split(/\r?\n/);
  const taken: string[] = [];
  let started = false;
  for (const line of lines.slice(0, 12)) {
    if (!line.trim()) {
      if (started && taken.length > 1) break;
      continue;
    }
    // The next recipient's paragraph starts: its words are not this one's.
    if (taken.length && /^<?[^\s<>@]+@[^\s<>]+?>?(:|\.\.\.)/.test(line)) break;
    started = true;
    taken.push(line.trim());
  }
  return taken.join(' ');
}

/** Lines that carry an SMTP reply or a status code: what a remote server said, in reports that only quote it. */
function smtpLines(report: string): string | null {
  const lines = report.split(/\r?\n/).filter((l) => /(?<![\d.])[45]\d\d[ -]|(?<![\d.\w])[45]\.\d{1,3}\.\d{1,3}(?![\d.]*\d)/.test(l));
  return lines.length ? lines.slice(0, 4).join(' ') : null;
}

function statusInText(text: string | null): string | null {
  if (!text) return null;
  for (const m of text.matchAll(new RegExp(STATUS_CODE.source, 'g'))) if (m[1] !== '2') return `${m[1]}.${m[2]}.${m[3]}`;
  return null;
}

function returnPathOf(
  headers: readonly Field[],
  original: ReturnedMessage | null,
  envelopeTo: readonly string[],
): { returnPath: string | null; verpTag: string | null } {
  const candidates = [
    // The envelope's recipient, when the message came to our own listener, is the return path itself.
    ...envelopeTo.map((a) => firstAddress(a)),
    ...['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'to'].map((n) => firstAddress(firstField(headers, n))),
    original?.returnPath ?? null,
  ].filter((a): a is string => a !== null);
  const tagged = candidates.find((a) => /^[^@+]+\+[^@]+@/.test(a));
  if (tagged) return { returnPath: tagged, verpTag: /^[^@+]+\+([^@]+)@/.exec(tagged)?.[1] ?? null };
  return { returnPath: candidates[0] ?? null, verpTag: null };
}

interface Arrival {
  headers: readonly Field[];
  original: ReturnedMessage | null;
  envelopeTo: readonly string[];
}

function verdict(kind: BounceKind, e: Evidence, { headers, original, envelopeTo }: Arrival): BounceVerdict {
  return {
    kind,
    recipient: e.recipient,
    status: e.status,
    diagnostic: tidy(e.diagnostic),
    reason: e.reason,
    ...returnPathOf(headers, original, envelopeTo),
    original,
  };
}

/** Classify one message as it arrived (the raw RFC 5322 text). Odd mail is `unknown` or `not_bounce`, never `hard`. */
export async function classifyBounce(raw: Buffer | string, opts: ClassifyOptions = {}): Promise<BounceVerdict> {
  return classifyAt(raw, 0, opts.envelopeTo ?? []);
}

export interface ClassifyOptions {
  /** The envelope's recipients (RCPT TO), when the message came over SMTP: they name the return path before any header. */
  envelopeTo?: readonly string[];
}

async function classifyAt(raw: Buffer | string, depth: number, envelopeTo: readonly string[]): Promise<BounceVerdict> {
  // A message saved from an mbox starts with its "From " separator line, which is no header.
  const source = (typeof raw === 'string' ? raw : raw.toString('utf8')).replace(/^From [^\n]*\n/, '');
  const mail = await mailparser().simpleParser(source, {
    keepDeliveryStatus: true,
    skipTextToHtml: true,
    skipImageLinks: true,
    skipTextLinks: true,
  });
  const headers = readFields(headerBlock(source));
  const subject = mail.subject ?? '';
  const from = firstAddress(firstField(headers, 'from')) ?? '';
  const contentType = (firstField(headers, 'content-type') ?? '').toLowerCase();

  const dsnParts = mail.attachments.filter((a) => DSN_TYPES.has(a.contentType)).map(contentOf);
  const feedbackParts = mail.attachments.filter((a) => FEEDBACK_TYPES.has(a.contentType)).map(contentOf);
  const originalParts = mail.attachments.filter((a) => ORIGINAL_TYPES.has(a.contentType)).map(contentOf);

  // A report that mailparser could not split (no boundaries where the header says there are) is read as plain text.
  let text = mail.text ?? '';
  if (!text.trim() && !mail.attachments.length) text = source.slice(headerBlock(source).length);
  const { report, quoted } = splitAtOriginal(text);
  const original = originalParts.map(readOriginal).find((o) => o !== null) ?? (quoted ? readOriginal(quoted) : null);
  const none: Evidence = { recipient: null, status: null, diagnostic: null, reason: null, temporary: false };
  const arrival: Arrival = { headers, original, envelopeTo };

  // Complaints: ARF (RFC 5965) feedback reports.
  if (contentType.includes('feedback-report') || feedbackParts.length) {
    const feedback = readFields(feedbackParts.join('\n') || report);
    const recipient = firstAddress(firstField(feedback, 'original-rcpt-to')) ?? original?.to ?? null;
    const type = firstField(feedback, 'feedback-type')?.toLowerCase() ?? 'abuse';
    return verdict('complaint', { ...none, recipient, reason: type }, arrival);
  }

  const ses = sesNotification(text);
  if (ses) {
    const e = ses.evidence;
    const kind = ses.kind === 'soft' ? (isHard(e.reason, e.temporary) ? 'hard' : 'soft') : ses.kind;
    return verdict(kind, e, arrival);
  }

  const dsnText = dsnParts.join('\n\n');
  let recipients: RecipientStatus[] = readDeliveryStatus(dsnText);
  if (!recipients.length) recipients = readDeliveryStatus(report);
  const failedHeader = firstAddress(firstField(headers, 'x-failed-recipients'));
  const fromName = firstField(headers, 'from') ?? '';
  // Only a mail server's report may call an address dead; a person's message that merely reads like one stays soft at most.
  const fromMailServer =
    recipients.length > 0 ||
    dsnParts.length > 0 ||
    contentType.includes('report-type=delivery-status') ||
    failedHeader !== null ||
    DAEMON.test(from) ||
    DAEMON.test(fromName.replace(/^"/, ''));
  const looksLikeBounce =
    fromMailServer || BOUNCE_SUBJECT.test(subject) || ((originalParts.length > 0 || quoted !== '') && FAILURE_WORDS.test(report));

  if (!looksLikeBounce) {
    if (isAutoReply(headers, subject)) return verdict('autoreply', { ...none, recipient: from || null, reason: 'vacation' }, arrival);
    return verdict('not_bounce', { ...none, recipient: null }, arrival);
  }

  // Delivery reports that say the message arrived.
  const failed = recipients.filter((r) => !['delivered', 'relayed', 'expanded', 'deliverable'].includes(r.action ?? ''));
  const first = failed.at(0) ?? null;
  if (recipients.length && !failed.length) {
    const r = recipients.at(0);
    return verdict(
      'delivered',
      {
        ...none,
        recipient: r?.finalRecipient ?? r?.originalRecipient ?? null,
        status: r?.status ?? null,
        diagnostic: r?.diagnostic ?? null,
        reason: 'delivered',
      },
      arrival,
    );
  }

  const ignore = new Set(
    [
      from,
      firstAddress(firstField(headers, 'to')),
      firstAddress(firstField(headers, 'delivered-to')),
      firstAddress(firstField(headers, 'x-original-to')),
    ].filter((a): a is string => a !== null),
  );
  const inText = recipientInText(report, ignore);
  const recipient = first?.finalRecipient ?? first?.originalRecipient ?? failedHeader ?? inText?.address ?? original?.to ?? null;

  const mentioned = recipient ? report.toLowerCase().indexOf(recipient) : -1;
  const nearby = inText ? wordsAfter(report, inText.at) : mentioned >= 0 ? wordsAfter(report, mentioned) : null;
  const diagnostic = first?.diagnostic ?? smtpLines(nearby ?? '') ?? nearby ?? smtpLines(report);
  const status =
    (first?.status && first.status !== '5.0.0' && first.status !== '4.0.0' ? first.status : null) ??
    statusInText(diagnostic) ??
    first?.status ??
    statusInText(report);
  const afterData = AFTER_DATA.test(report) || AFTER_DATA.test(dsnText);
  const reason = reasonOf(reasonFromWords(first?.statusWords) ?? reasonFromWords(diagnostic) ?? reasonFromWords(report), status, afterData);
  // A 4.x.x code is temporary, except an address status (4.1.x) in a report that says delivery failed for good:
  // Postfix returns some unknown users so.
  const temporary =
    first?.action === 'delayed' ||
    (status?.startsWith('4') === true && !(status.startsWith('4.1.') && first?.action === 'failed')) ||
    (!status && /^\s*4\d\d\b/.test(diagnostic ?? ''));

  const e: Evidence = { recipient, status, diagnostic, reason, temporary };
  // A report that names a failed address but gives no reason is still a failure: soft, as nothing says the address is gone.
  if (!reason && !status && !diagnostic && (first?.action === 'failed' || failedHeader)) return verdict('soft', e, arrival);
  if (!reason && !status && !diagnostic) {
    // Some gateways wrap the real report in a message of their own: read the enclosed one.
    const enclosed = mail.attachments.find((a) => a.contentType === 'message/rfc822');
    if (depth < 1 && enclosed) {
      const inner = await classifyAt(enclosed.content, depth + 1, envelopeTo);
      if (inner.kind === 'hard' || inner.kind === 'soft') return inner;
    }
    return verdict('unknown', e, arrival);
  }
  return verdict(fromMailServer && isHard(reason, temporary) ? 'hard' : 'soft', e, arrival);
}
