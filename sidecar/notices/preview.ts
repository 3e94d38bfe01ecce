/**
 * The data a template preview renders with a real patron: the patron and the
 * loans staff chose, read from Koha now, in the shape and the formats
 * (Koha's dateformat, the currency) a notice run gives templates. Nothing is
 * stored or sent.
 */
import { libraryDay, type MessageType } from '../kernel';
import type { OverdueLoan, PatronContact } from '../host';
import type { NoticeDeps } from './context';
import { patronTemplateData } from './context';
import { RunContext } from './engine';

/** How many of a patron's loans a preview lists at most. */
export const PREVIEW_LOANS = 50;

export interface PreviewPatron {
  patron: PatronContact;
  loans: OverdueLoan[];
  /** Template data from the patron and the chosen loans; the caller fills in what a type needs beyond them. */
  data: Record<string, unknown>;
}

/** The patron's data for a preview, or null when Koha has no such patron. `issueIds` null: all their loans. */
export async function previewPatronData(
  deps: NoticeDeps,
  type: MessageType,
  borrowernumber: number,
  issueIds: number[] | null,
): Promise<PreviewPatron | null> {
  const patron = await deps.host.patron(borrowernumber);
  if (!patron) return null;
  const runDate = libraryDay(deps.clock.now(), deps.settings.timezone);
  const [loans, ctx] = await Promise.all([
    deps.host.loansOf(borrowernumber, PREVIEW_LOANS),
    RunContext.load(deps, { runId: null, runDate, branchcode: null, dryRun: true, automated: false, actor: 'preview' }),
  ]);
  const chosen = issueIds === null ? loans : loans.filter((l) => issueIds.includes(l.issue_id));
  const items = chosen.map((l) => {
    const price = l.replacementprice === null ? null : Number(l.replacementprice);
    return {
      title: l.biblio_title ?? '',
      author: l.author ?? '',
      barcode: l.barcode ?? '',
      callnumber: l.itemcallnumber ?? '',
      due: ctx.date(l.date_due),
      ...(type === 'replacement_bill' && price !== null && Number.isFinite(price) ? { price, price_text: ctx.amount(price) } : {}),
    };
  });
  return {
    patron,
    loans,
    data: {
      patron: patronTemplateData(patron),
      branch: ctx.directory.templateData(patron.branchcode),
      items,
      today: ctx.date(runDate),
      // A preview adds no fee: the rule decides that when the notice is made.
      fee: 0,
      fee_text: ctx.amount(0),
    },
  };
}
