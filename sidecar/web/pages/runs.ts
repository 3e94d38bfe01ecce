/**
 * A run of a routine: its progress while it works, then the review before
 * anything is sent (patrons view and items view; untick a patron or an item,
 * send one message by another channel), the approval that queues the rest,
 * and the run's outputs (letters, every message as a letter, the pick list
 * of held titles, the SMS error report).
 */
import type { Request, Response } from 'express';
import { KmcError } from '../../errors';
import { isChannel, type ChannelName } from '../../kernel';
import { skipCountsOf, type RunStore, type RunSummary } from '../../runs';
import { isMessageKey, type Translate } from '../i18n';
import { pickList } from '../outputs/letters';
import { confirmPrinted, sendLettersPdf } from './letters';
import { idParam, listParam, type PageKit, type StaffPage } from '../kit';
import { routineNameWords, staffNames } from '../words';
import { channelChoices } from '../channel-choices';

const PAGE_SIZE = 100;
const HOLD_TYPES = ['hold_waiting', 'hold_reminder'];

/** What a run counts its candidates in, for the words of a run that found nothing. */
function unitOf(type: string | null): 'loan' | 'hold' | 'patron' {
  if (type && HOLD_TYPES.includes(type)) return 'hold';
  return type === 'welcome' ? 'patron' : 'loan';
}

/** Why a finished run proposed nothing, in words, from its skip counts ("27 loans already had this notice"). */
export function whyNothing(t: Translate, run: Pick<RunSummary, 'stats' | 'message_type' | 'run_date'>): string[] {
  const { skippedBy, duplicates } = skipCountsOf(run.stats);
  const counts = Object.entries(skippedBy);
  if (duplicates) counts.push(['duplicates', duplicates]);
  const unit = unitOf(run.message_type);
  const lines = counts
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => {
      const key = `run.why.reason.${reason}`;
      return t('run.why', {
        n,
        what: t(`run.why.unit.${unit}${n === 1 ? '' : 's'}`),
        reason: isMessageKey(key) ? t(key) : reason,
      });
    });
  return lines.length ? lines : [t('run.why_none', { date: run.run_date })];
}

/** What "send as" may offer for these messages: only channels that can carry each one now. */
async function sendAsChoices(kit: PageKit, messageIds: number[]): Promise<Map<number, ChannelName[]>> {
  const rows = await kit.deps.store.many(messageIds);
  return channelChoices(kit.deps, rows);
}

function ids(values: unknown): number[] {
  return listParam(values)
    .map((v) => idParam(v))
    .filter((n): n is number => n !== null);
}

export const runPages: StaffPage = {
  mount(router, kit: PageKit) {
    const { deps } = kit;
    const { runs, approval } = deps;
    const allowed = kit.requirePermission('routines');

    const loadRun = async (req: Request, res: Response): Promise<RunSummary | null> => {
      const id = idParam(req.params.id);
      const run = id ? await runs.get(id) : null;
      if (!run) kit.fail(req, res, 404, 'run.not_found');
      return run;
    };

    router.get('/runs', allowed, async (req, res) => {
      const waiting = req.query.waiting === '1';
      const list = await runs.recent({ limit: 100, waiting });
      const actorNames = await staffNames(
        deps.staff,
        list.map((r) => r.started_by),
      );
      kit.render(req, res, 'runs.njk', { title: kit.staff(res).t('runs.title'), runs: list, waiting, actorNames });
    });

    router.get('/runs/:id/status', allowed, async (req, res) => {
      const id = idParam(req.params.id);
      const progress = id ? await runs.progress(id) : null;
      if (!progress) {
        res.status(404).json({ error: 'KMC_NOT_FOUND' });
        return;
      }
      const t = kit.staff(res).t;
      res.setHeader('Cache-Control', 'no-store');
      res.json({ ...progress, text: t(progress.status === 'running' ? 'run.progress' : 'run.done', { n: progress.made }) });
    });

    const showRun = (view: 'patrons' | 'items') => async (req: Request, res: Response) => {
      const run = await loadRun(req, res);
      if (!run) return;
      const t = kit.staff(res).t;
      const page = typeof req.query.page === 'string' && /^\d{1,6}$/.test(req.query.page) ? Math.max(1, Number(req.query.page)) : 1;
      const approved = run.approved_by !== null;
      const counts = await deps.store.runCounts(run.id);
      let review: {
        messages?: Awaited<ReturnType<RunStore['reviewMessages']>>['messages'];
        items?: Awaited<ReturnType<RunStore['reviewItems']>>['items'];
        total: number;
      } = { total: 0 };
      if (run.status !== 'running') {
        review = view === 'items' ? await runs.reviewItems(run.id, page, PAGE_SIZE) : await runs.reviewMessages(run.id, page, PAGE_SIZE);
      }
      const borrowers = [...(review.messages ?? []), ...(review.items ?? [])].map((m) => m.borrowernumber);
      const patrons = Object.fromEntries(await deps.host.patronNames(borrowers));
      const pages = Math.max(1, Math.ceil(review.total / PAGE_SIZE));
      const progress = run.status === 'running' ? await runs.progress(run.id) : null;
      const approver = run.approved_by ? await deps.staff.staffAccount(run.approved_by) : null;
      const actorNames = await staffNames(deps.staff, [run.started_by]);
      const toPrint = run.status === 'running' ? [] : await deps.store.lettersToPrint({ runId: run.id });
      // A finished run with no message has nothing to approve: it says why instead.
      const made = Object.values(counts.byStatus).reduce((a, b) => a + b, 0);
      const nothing = run.status === 'finished' && made === 0 ? whyNothing(t, run) : null;
      const editable = !approved && run.status === 'finished';
      const choices =
        editable && review.messages?.length
          ? await sendAsChoices(
              kit,
              review.messages.map((m) => m.id),
            )
          : new Map();
      kit.render(req, res, 'run.njk', {
        title: t('run.title', { name: routineNameWords(t, run.routine_name) || t(`type.${run.message_type ?? 'overdue'}`), id: run.id }),
        run,
        actorNames,
        view,
        page,
        pages,
        review,
        patrons,
        counts: counts.byStatus,
        channelCounts: counts.byChannel,
        approved,
        approver: approver ? [approver.firstname, approver.surname].filter(Boolean).join(' ') : null,
        editable: editable && made > 0,
        whyNothing: nothing,
        progress,
        choices: Object.fromEntries(choices),
        holdRun: HOLD_TYPES.includes(run.message_type ?? ''),
        toPrint: toPrint.map((m) => m.id).join(','),
        toPrintCount: toPrint.length,
        base: `/runs/${run.id}`,
      });
    };
    router.get('/runs/:id', allowed, showRun('patrons'));
    router.get('/runs/:id/items', allowed, showRun('items'));

    router.post('/runs/:id/review', allowed, async (req, res) => {
      const run = await loadRun(req, res);
      if (!run) return;
      const body = (req.body ?? {}) as Record<string, unknown>;
      const staff = kit.staff(res).account.borrowernumber;
      const view = body.view === 'items' ? 'items' : 'patrons';
      const page = typeof body.page === 'string' && /^\d{1,6}$/.test(body.page) ? body.page : '1';
      const shownMessages = ids(body.shown);
      const sendAs = new Map<number, ChannelName | null>();
      // A channel that cannot carry the message now is not taken, whatever was posted.
      const choices = await sendAsChoices(kit, shownMessages);
      for (const id of shownMessages) {
        const v = body[`send_as_${id}`];
        sendAs.set(id, isChannel(v) && (choices.get(id) ?? []).includes(v) ? v : null);
      }
      const saved = await runs.saveReview(
        run.id,
        staff,
        {
          shownMessages,
          keepMessages: new Set(ids(body.keep)),
          sendAs,
          shownItems: ids(body.shown_item),
          keepItems: new Set(ids(body.keep_item)),
        },
        deps.clock.now(),
      );
      if (saved.changed)
        await kit.audit.record({
          borrowernumber: staff,
          action: 'run.review',
          objectType: 'run',
          objectId: run.id,
          detail: { changed: saved.changed, view },
          ip: kit.ip(req),
        });
      const back = `/runs/${run.id}${view === 'items' ? '/items' : ''}?page=${page}`;
      if (body.do !== 'approve') {
        res.redirect(303, `${back}&done=run.saved`);
        return;
      }
      let result;
      try {
        result = await approval.approve(run.id, staff);
      } catch (err) {
        if (err instanceof KmcError && err.code === 'KMC_RUN_NOT_DONE') {
          kit.fail(req, res, 409, 'run.still_running');
          return;
        }
        throw err;
      }
      if (!result) {
        res.redirect(303, `/runs/${run.id}?done=run.already_approved`);
        return;
      }
      await kit.audit.record({
        borrowernumber: staff,
        action: 'run.approve',
        objectType: 'run',
        objectId: run.id,
        detail: { ...result },
        ip: kit.ip(req),
      });
      const stale = result.itemsNoLongerCurrent + result.cancelledNoLongerCurrent > 0;
      res.redirect(303, `/runs/${run.id}?done=${stale ? 'run.approved_stale' : 'run.approved'}&n=${result.queued + result.held}`);
    });

    const sendPdf = (which: 'print' | 'all') => async (req: Request, res: Response) => {
      const run = await loadRun(req, res);
      if (!run) return;
      const t = kit.staff(res).t;
      // "Print letters": the letters that wait to be printed; otherwise every letter of the run (to print again).
      const waiting = which === 'print' && req.query.waiting === '1';
      const messages = waiting ? await deps.store.lettersToPrint({ runId: run.id }) : await deps.store.runLetterMessages(run.id, which);
      await sendLettersPdf(kit, req, res, {
        messages,
        title: t(which === 'print' ? 'run.letters' : 'run.all_letters'),
        file: `run-${run.id}-${which === 'print' ? 'letters' : 'all-messages'}.pdf`,
        action: which === 'print' ? 'run.letters' : 'run.all_letters',
        objectType: 'run',
        objectId: run.id,
      });
    };
    router.get('/runs/:id/letters.pdf', allowed, sendPdf('print'));
    router.get('/runs/:id/all-messages.pdf', allowed, sendPdf('all'));

    router.post('/runs/:id/printed', allowed, async (req, res) => {
      const run = await loadRun(req, res);
      if (!run) return;
      const n = await confirmPrinted(kit, req, res, { objectType: 'run', objectId: run.id });
      res.redirect(303, `/runs/${run.id}?done=letters.confirmed&n=${n}`);
    });

    router.get('/runs/:id/pick-list', allowed, async (req, res) => {
      const run = await loadRun(req, res);
      if (!run) return;
      const lines = await pickList({ store: deps.store, host: deps.host, staff: deps.staff }, run.id);
      const branches = await deps.host.branches();
      kit.render(req, res, 'pick-list.njk', {
        title: kit.staff(res).t('picklist.title', { id: run.id }),
        run,
        lines,
        branchNames: Object.fromEntries([...branches.values()].map((b) => [b.branchcode, b.branchname])),
      });
    });

    router.get('/runs/:id/sms-errors', allowed, async (req, res) => {
      const run = await loadRun(req, res);
      if (!run) return;
      const lines = await deps.store.smsErrorsOfRun(run.id);
      const patrons = Object.fromEntries(await deps.host.patronNames(lines.map((l) => l.borrowernumber)));
      kit.render(req, res, 'sms-errors.njk', { title: kit.staff(res).t('smserrors.title', { id: run.id }), run, lines, patrons });
    });
  },
};
