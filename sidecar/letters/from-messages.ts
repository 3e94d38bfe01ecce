/**
 * Letters from the queue's messages: the sending branch's block (its name,
 * letter address, phone, e-mail), the patron's address as it was fixed when
 * the letter was made, the notice's date the way Koha writes dates, and the
 * message's language (the patron's) for the letter's own labels.
 */
import { postalAddress } from '../contact';
import type { HostReader } from '../host';
import { BranchDirectory, type NoticeDeps } from '../notices';
import type { LetterMessage } from '../queue';
import { asKohaDateFormat, formatKohaDate } from '../rendering';
import type { Letter } from './render';

export interface MessageLetterDeps {
  host: HostReader;
  notices: Pick<NoticeDeps, 'host' | 'branches' | 'settings'>;
}

/** The letters of these messages, in the order given. */
export async function lettersOfMessages(deps: MessageLetterDeps, messages: LetterMessage[]): Promise<Letter[]> {
  if (!messages.length) return [];
  const [directory, prefs, patrons] = await Promise.all([
    BranchDirectory.load(deps.notices),
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
      lang: m.lang,
    };
  });
}
