/**
 * Letters to print: staff print the letters that wait for them (from a run's
 * page, or from the daily list per branch that collects the letters of every
 * run, scheduled ones included) and then confirm that they printed, the way
 * Mikromarc asks "update the database?" after printing. Only the letters
 * that were in the PDF staff had in hand are confirmed: the form carries
 * their ids.
 */
import type { Request, Response } from 'express';
import type { LetterMessage } from '../../queue';
import { idParam, textParam, type PageKit, type StaffPage } from '../kit';
import type { LetterOutputDeps } from '../outputs/letters';
import { lettersOfMessages } from '../../letters';

/** At most this many letters are confirmed by one form. */
const MAX_CONFIRM = 5000;
/** The branch part of the daily list's addresses when letters have no branch. */
const NO_BRANCH = '-';

/** The ids a confirm form carries, as one comma-separated field. */
export function letterIdsParam(value: unknown): number[] {
  return textParam(value, 100_000)
    .split(',')
    .map((v) => idParam(v.trim()))
    .filter((n): n is number => n !== null)
    .slice(0, MAX_CONFIRM);
}

/** The letters as one PDF download, labels in each letter's language, with an audit entry. */
export async function sendLettersPdf(
  kit: PageKit,
  req: Request,
  res: Response,
  args: { messages: LetterMessage[]; title: string; file: string; action: string; objectType: string; objectId: string | number },
): Promise<void> {
  const deps: LetterOutputDeps = { store: kit.deps.store, host: kit.deps.host, notices: kit.deps.notices };
  const letters = await lettersOfMessages(deps, args.messages);
  const pdf = await kit.deps.letterPdfs.render(letters, {
    title: args.title,
    lang: kit.staff(res).lang,
    country: deps.notices.settings.defaultCountry,
  });
  await kit.audit.record({
    borrowernumber: kit.staff(res).account.borrowernumber,
    action: args.action,
    objectType: args.objectType,
    objectId: args.objectId,
    detail: { letters: letters.length },
    ip: kit.ip(req),
  });
  res.setHeader('Content-Disposition', `inline; filename="${args.file}"`);
  res.setHeader('Cache-Control', 'no-store');
  res.type('application/pdf').send(pdf);
}

/** Staff confirm that the letters of the form printed: those still waiting move to `printed`, with their name and the time. */
export async function confirmPrinted(
  kit: PageKit,
  req: Request,
  res: Response,
  args: { objectType: string; objectId: string | number },
): Promise<number> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const ids = letterIdsParam(body.letters);
  const staff = kit.staff(res).account;
  const name = [staff.firstname, staff.surname].filter(Boolean).join(' ') || staff.userid || `#${staff.borrowernumber}`;
  const moved = await kit.deps.store.confirmPrinted({
    ids,
    staffName: name,
    actor: `staff:${staff.borrowernumber}`,
    at: kit.deps.clock.now(),
  });
  await kit.audit.record({
    borrowernumber: staff.borrowernumber,
    action: 'letters.printed',
    objectType: args.objectType,
    objectId: args.objectId,
    detail: { letters: moved.length },
    ip: kit.ip(req),
  });
  return moved.length;
}

export const letterPages: StaffPage = {
  nav: [{ id: 'letters', path: '/letters', label: 'nav.letters', permission: 'queue', order: 35 }],
  mount(router, kit: PageKit) {
    const { deps } = kit;
    const allowed = kit.requirePermission('queue');
    const branchOf = (param: unknown): string | null | undefined => {
      const code = typeof param === 'string' ? param : '';
      if (code === NO_BRANCH) return null;
      return /^[A-Za-z0-9_-]{1,10}$/.test(code) ? code : undefined;
    };

    router.get('/letters', allowed, async (req, res) => {
      const t = kit.staff(res).t;
      const [waiting, branches] = await Promise.all([deps.store.lettersToPrintByBranch(), deps.host.branches()]);
      const rows = await Promise.all(
        waiting.map(async (w) => ({
          ...w,
          key: w.branchcode ?? NO_BRANCH,
          name: w.branchcode ? (branches.get(w.branchcode)?.branchname ?? w.branchcode) : t('letters.no_branch'),
          ids: (await deps.store.lettersToPrint({ branchcode: w.branchcode })).map((m) => m.id).join(','),
        })),
      );
      kit.render(req, res, 'letters.njk', { title: t('letters.title'), rows });
    });

    router.get('/letters/:branch/letters.pdf', allowed, async (req, res) => {
      const branchcode = branchOf(req.params.branch);
      if (branchcode === undefined) {
        kit.fail(req, res, 404, 'letters.none');
        return;
      }
      const messages = await deps.store.lettersToPrint({ branchcode });
      await sendLettersPdf(kit, req, res, {
        messages,
        title: kit.staff(res).t('letters.title'),
        file: `letters-${branchcode ?? 'none'}.pdf`,
        action: 'letters.print',
        objectType: 'branch',
        objectId: branchcode ?? NO_BRANCH,
      });
    });

    router.post('/letters/:branch/printed', allowed, async (req, res) => {
      const branchcode = branchOf(req.params.branch);
      if (branchcode === undefined) {
        kit.fail(req, res, 404, 'letters.none');
        return;
      }
      const n = await confirmPrinted(kit, req, res, { objectType: 'branch', objectId: branchcode ?? NO_BRANCH });
      res.redirect(303, `/letters?done=letters.confirmed&n=${n}`);
    });
  },
};
