/**
 * Outputs of a run: print-ready letters (rendered into one PDF on the letters'
 * PDF thread: the sending branch's block, the patron's address in the
 * envelope's window, labels in the patron's language), every message of the run as a letter
 * (a packing slip for held items), a pick list of held titles by shelf
 * location, and the report of SMS that could not be sent.
 */
import type { HostReader, StaffReader } from '../../host';
import { lettersOfMessages, type Letter } from '../../letters';
import type { NoticeDeps } from '../../notices';
import type { MessageStore } from '../../queue';

export type { Letter };

export interface LetterOutputDeps {
  store: MessageStore;
  host: HostReader;
  notices: NoticeDeps;
}

/**
 * The letters of a run: `print` gives the messages that go by letter,
 * `all` every message of the run as a letter. Cancelled messages are left out.
 */
export async function runLetters(deps: LetterOutputDeps, runId: number, which: 'print' | 'all'): Promise<Letter[]> {
  return lettersOfMessages(deps, await deps.store.runLetterMessages(runId, which));
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
export async function pickList(
  deps: { store: MessageStore; host: HostReader; staff: StaffReader },
  runId: number,
): Promise<PickListLine[]> {
  const rows = await deps.store.heldItemsOfRun(runId);
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
