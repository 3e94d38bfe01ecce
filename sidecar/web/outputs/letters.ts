/**
 * Outputs of a run: print-ready letters (one PDF, one letter a page, with
 * the sending branch's address block), every message of the run as a letter
 * (a packing slip for held items), a pick list of held titles by shelf
 * location, and the report of SMS that could not be sent.
 */
import type { Knex } from 'knex';
import type { HostReader, StaffReader } from '../../host';
import type { BranchSettingsStore } from '../../branches';
import { postalAddress } from '../../contact';
import { BranchDirectory } from '../../notices';
import { asKohaDateFormat, formatKohaDate } from '../../rendering';
import type { Translate } from '../i18n';
import { A4, PdfDocument, wrapText } from './pdf';

const LEFT = 56;
const RIGHT = A4.width - 56;
const BOTTOM = A4.height - 60;

export interface Letter {
  messageId: number;
  branchLines: string[];
  recipientLines: string[];
  date: string;
  subject: string;
  body: string;
}

/** One letter a page; a letter too long for its page goes on over the next, with its subject repeated. */
export function lettersPdf(letters: Letter[], t: Translate, title: string): Buffer {
  const doc = new PdfDocument({ title });
  for (const letter of letters) {
    let page = doc.addPage();
    let top = 64;
    letter.branchLines.forEach((line, i) => {
      page.text(LEFT, top, line, { size: i === 0 ? 12 : 10, bold: i === 0 });
      top += i === 0 ? 15 : 12.5;
    });
    page.textRight(RIGHT, 64, letter.date, { size: 10 });
    // Where a window envelope shows the address.
    top = Math.max(top + 24, 150);
    for (const line of letter.recipientLines) {
      page.text(LEFT + 14, top, line, { size: 11 });
      top += 14;
    }
    top = Math.max(top + 36, 270);
    for (const line of wrapText(letter.subject, RIGHT - LEFT, 13, true)) {
      page.text(LEFT, top, line, { size: 13, bold: true });
      top += 17;
    }
    top += 10;
    const footer = (p: typeof page) => {
      p.line(LEFT, A4.height - 44, RIGHT, A4.height - 44);
      p.text(LEFT, A4.height - 32, t('letters.reference', { id: letter.messageId }), { size: 8 });
    };
    footer(page);
    for (const line of wrapText(letter.body, RIGHT - LEFT, 11)) {
      if (top > BOTTOM) {
        page = doc.addPage();
        footer(page);
        top = 64;
        page.text(LEFT, top, `${letter.subject} (${t('letters.continued')})`, { size: 10, bold: true });
        top += 24;
      }
      if (line) page.text(LEFT, top, line, { size: 11 });
      top += 15;
    }
  }
  return doc.toBuffer();
}

interface LetterMessage {
  id: number;
  borrowernumber: number;
  branchcode: string | null;
  channel: string;
  to_address: string | null;
  subject: string | null;
  body_text: string | null;
  created_at: string;
  notice_date?: string | null;
}

/**
 * The letters of a run: `print` gives the messages that go by letter,
 * `all` every message of the run as a letter. Cancelled messages are left out.
 */
export async function runLetters(
  deps: { knex: Knex; host: HostReader; branches: Pick<BranchSettingsStore, 'all'>; settings: { mailFrom: string; timezone: string } },
  runId: number,
  which: 'print' | 'all',
): Promise<Letter[]> {
  const q = deps
    .knex('kmc_messages')
    .where({ run_id: runId })
    .whereNot('status', 'cancelled')
    .whereNull('anonymised_at')
    .orderBy('branchcode')
    .orderBy('id');
  if (which === 'print') q.where('channel', 'print');
  const hasNoticeDate = await deps.knex.schema.hasColumn('kmc_messages', 'notice_date');
  const messages = await q.select<LetterMessage[]>([
    'id',
    'borrowernumber',
    'branchcode',
    'channel',
    'to_address',
    'subject',
    'body_text',
    'created_at',
    ...(hasNoticeDate ? ['notice_date'] : []),
  ]);
  if (!messages.length) return [];
  const [directory, prefs, patrons] = await Promise.all([
    BranchDirectory.load(deps),
    deps.host.systemPreferences(['dateformat']),
    deps.host.patrons(messages.map((m) => m.borrowernumber)),
  ]);
  const dateFormat = asKohaDateFormat(prefs.dateformat);
  return messages.map((m) => {
    const b = directory.branch(m.branchcode);
    const branchLines = [
      b?.branchname ?? m.branchcode ?? '',
      ...directory.letterAddress(m.branchcode).split('\n'),
      b?.branchphone ?? '',
      directory.senderEmail(m.branchcode),
    ]
      .map((l) => l.trim())
      .filter(Boolean);
    const patron = patrons.get(m.borrowernumber);
    // A letter's own address block was fixed when it was made; other channels take the address Koha has now.
    const recipient = m.channel === 'print' && m.to_address ? m.to_address : patron ? postalAddress(patron) : `#${m.borrowernumber}`;
    return {
      messageId: m.id,
      branchLines,
      recipientLines: recipient.split('\n').filter((l) => l.trim()),
      date: formatKohaDate(m.notice_date ?? m.created_at, dateFormat),
      subject: m.subject ?? '',
      body: m.body_text ?? '',
    };
  });
}

export interface PickListLine {
  holdingbranch: string | null;
  location: string | null;
  locationName: string | null;
  callnumber: string | null;
  title: string | null;
  author: string | null;
  barcode: string | null;
  borrowernumber: number;
  patron: string;
  cardnumber: string | null;
  messageId: number;
}

/** Held items of a run, sorted the way staff walk the shelves: branch, shelving location, call number. */
export async function pickList(deps: { knex: Knex; host: HostReader; staff: StaffReader }, runId: number): Promise<PickListLine[]> {
  const rows: Array<{
    message_id: number;
    borrowernumber: number;
    itemnumber: number | null;
    title: string | null;
    author: string | null;
    barcode: string | null;
  }> = await deps
    .knex('kmc_message_items as i')
    .join('kmc_messages as m', 'm.id', 'i.message_id')
    .where('m.run_id', runId)
    .whereNot('m.status', 'cancelled')
    .whereNotNull('i.reserve_id')
    .select('i.message_id', 'm.borrowernumber', 'i.itemnumber', 'i.title', 'i.author', 'i.barcode');
  const [shelving, names] = await Promise.all([
    deps.staff.shelving(rows.flatMap((r) => (r.itemnumber ? [r.itemnumber] : []))),
    deps.host.patronNames(rows.map((r) => r.borrowernumber)),
  ]);
  const lines = rows.map((r) => {
    const s = r.itemnumber ? shelving.get(r.itemnumber) : undefined;
    const p = names.get(r.borrowernumber);
    return {
      holdingbranch: s?.holdingbranch ?? null,
      location: s?.location ?? null,
      locationName: s?.locationName ?? null,
      callnumber: s?.callnumber ?? null,
      title: r.title,
      author: r.author,
      barcode: r.barcode,
      borrowernumber: r.borrowernumber,
      patron: p?.name ?? '',
      cardnumber: p?.cardnumber ?? null,
      messageId: r.message_id,
    };
  });
  const key = (l: PickListLine) => [l.holdingbranch ?? '', l.locationName ?? l.location ?? '', l.callnumber ?? '', l.title ?? ''];
  return lines.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) {
      const c = ka[i].localeCompare(kb[i], undefined, { numeric: true });
      if (c) return c;
    }
    return 0;
  });
}

export interface SmsErrorLine {
  id: number;
  borrowernumber: number;
  status: string;
  to_address: string | null;
  status_reason: string | null;
  last_reply: string | null;
  attempts: number;
  updated_at: string;
}

/** The run's SMS that failed or found no usable number, with the reason the SMSC (or the sidecar) gave. */
export async function smsErrors(knex: Knex, runId: number): Promise<SmsErrorLine[]> {
  return knex('kmc_messages')
    .where({ run_id: runId, channel: 'sms' })
    .whereIn('status', ['failed', 'missing_contact'])
    .orderBy('id')
    .select('id', 'borrowernumber', 'status', 'to_address', 'status_reason', 'last_reply', 'attempts', 'updated_at');
}
