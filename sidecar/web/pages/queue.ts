/**
 * The message queue page: failed and missing-contact messages, with their
 * reasons, and the four things staff can do about them, to one message or
 * to all ticked at once.
 */
import type { ChannelName } from '../../channels/contract';
import { MESSAGE_TYPES } from '../../rules';
import { CHANNELS } from '../messages';
import {
  QUEUE_ACTIONS,
  QUEUE_STATUSES,
  QueueActions,
  queueList,
  type ActionOutcome,
  type QueueAction,
  type QueueFilter,
} from '../queue-actions';
import { idParam, listParam, type StaffPage } from '../kit';

const PAGE_SIZE = 100;

function parseFilter(q: Record<string, unknown>): QueueFilter {
  const pick = (v: unknown, allowed: readonly string[]) => (typeof v === 'string' && allowed.includes(v) ? v : '');
  return {
    status: pick(q.status, QUEUE_STATUSES),
    channel: pick(q.channel, CHANNELS),
    branch: typeof q.branch === 'string' && /^[A-Za-z0-9_-]{1,10}$/.test(q.branch) ? q.branch : '',
    type: pick(q.type, MESSAGE_TYPES),
    page: typeof q.page === 'string' && /^\d{1,6}$/.test(q.page) ? Math.max(1, Number(q.page)) : 1,
  };
}

export const queuePages: StaffPage = {
  nav: [{ id: 'queue', path: '/queue', label: 'nav.queue', permission: 'queue', order: 30 }],
  mount(router, kit) {
    const { deps } = kit;
    const actions = new QueueActions({
      knex: deps.knex,
      store: deps.store,
      host: deps.host,
      clock: deps.clock,
      defaultCountry: deps.settings.defaultCountry,
      notices: deps.notices,
    });
    const allowed = kit.requirePermission('queue');

    router.get('/queue', allowed, async (req, res) => {
      const filter = parseFilter(req.query as Record<string, unknown>);
      const [list, branches] = await Promise.all([queueList(deps.knex, filter, PAGE_SIZE), deps.host.branches()]);
      const patrons = Object.fromEntries(await deps.host.patronNames(list.messages.map((m) => m.borrowernumber)));
      const qs = new URLSearchParams(Object.entries(filter).filter(([k, v]) => k !== 'page' && v) as Array<[string, string]>).toString();
      const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
      kit.render(req, res, 'queue.njk', {
        title: kit.staff(res).t('queue.title'),
        filter,
        list,
        patrons,
        statuses: QUEUE_STATUSES,
        channels: CHANNELS,
        types: MESSAGE_TYPES,
        branches: [...branches.values()].map((b) => ({ code: b.branchcode, name: b.branchname })),
        canResend: !!deps.notices,
        pages,
        prevHref: filter.page > 1 ? `/queue?${qs}${qs ? '&' : ''}page=${filter.page - 1}` : null,
        nextHref: filter.page < pages ? `/queue?${qs}${qs ? '&' : ''}page=${filter.page + 1}` : null,
        back: req.originalUrl,
      });
    });

    router.post('/queue', allowed, async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const staff = kit.staff(res).account.borrowernumber;
      const actor = `staff:${staff}`;
      let action: QueueAction | null = null;
      let targets: number[] = [];
      // A button on one row names its action and message; otherwise the ticked ones get the chosen action.
      const one = typeof body.one === 'string' ? /^(retry|resend|cancel|handled):(\d{1,16})$/.exec(body.one) : null;
      if (one) {
        action = one[1] as QueueAction;
        targets = [Number(one[2])];
      } else {
        action = QUEUE_ACTIONS.includes(body.action as QueueAction) ? (body.action as QueueAction) : null;
        targets = listParam(body.ids)
          .map((v) => idParam(v))
          .filter((n): n is number => n !== null)
          .slice(0, 1000);
      }
      const back =
        typeof body.back === 'string' && body.back.startsWith('/queue') && !body.back.startsWith('//') ? body.back.split('#')[0] : '/queue';
      const sep = back.includes('?') ? '&' : '?';
      if (!action || !targets.length) {
        res.redirect(303, `${back}${sep}done=queue.nothing`);
        return;
      }
      const channel =
        typeof body.channel === 'string' && (CHANNELS as readonly string[]).includes(body.channel) ? (body.channel as ChannelName) : null;
      if (action === 'resend' && (!channel || !deps.notices)) {
        res.redirect(303, `${back}${sep}done=queue.need_channel`);
        return;
      }
      const outcomes: Record<string, number> = {};
      for (const id of targets) {
        let outcome: ActionOutcome;
        if (action === 'retry') outcome = await actions.retry(id, actor);
        else if (action === 'resend') outcome = (await actions.resend(id, channel!, actor, staff)).outcome;
        else if (action === 'cancel') outcome = await actions.cancel(id, actor);
        else outcome = await actions.markHandled(id, actor, staff);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      }
      await kit.audit.record({
        borrowernumber: staff,
        action: `queue.${action}`,
        objectType: 'messages',
        objectId: targets.length === 1 ? targets[0] : `${targets.length} messages`,
        detail: { ids: targets.slice(0, 200), channel, outcomes },
        ip: kit.ip(req),
      });
      const done = outcomes.done ?? 0;
      res.redirect(303, `${back}${sep}done=${done === targets.length ? 'queue.done' : 'queue.partly'}&n=${done}/${targets.length}`);
    });
  },
};
