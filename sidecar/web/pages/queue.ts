/**
 * The message queue page: failed and missing-contact messages, with their
 * reasons, and the four things staff can do about them, to one message or
 * to all ticked at once.
 */
import { CHANNELS, MESSAGE_TYPES, isChannel } from '../../kernel';
import { QUEUE_ACTIONS, STAFF_QUEUE_STATUSES, type QueueAction, type StaffQueueFilter } from '../../queue';
import { idParam, listParam, type StaffPage } from '../kit';
import { pageParams, pagerOf } from '../messages';
import { channelsSetUp } from '../channel-choices';

const QUEUE_STATUSES = STAFF_QUEUE_STATUSES;

const PAGE_SIZE = 100;

function parseFilter(q: Record<string, unknown>): StaffQueueFilter & { page: number } {
  const pick = (v: unknown, allowed: readonly string[]) => (typeof v === 'string' && allowed.includes(v) ? v : '');
  return {
    status: pick(q.status, QUEUE_STATUSES),
    channel: pick(q.channel, CHANNELS),
    branch: typeof q.branch === 'string' && /^[A-Za-z0-9_-]{1,10}$/.test(q.branch) ? q.branch : '',
    type: pick(q.type, MESSAGE_TYPES),
    ...pageParams(q),
  };
}

export const queuePages: StaffPage = {
  nav: [{ id: 'queue', path: '/queue', label: 'nav.queue', permission: 'queue', order: 30 }],
  mount(router, kit) {
    const { deps } = kit;
    const actions = deps.queueActions;
    const allowed = kit.requirePermission('queue');

    router.get('/queue', allowed, async (req, res) => {
      const filter = parseFilter(req.query);
      const [list, branches] = await Promise.all([deps.store.staffQueue(filter, PAGE_SIZE), deps.host.branches()]);
      const patrons = Object.fromEntries(await deps.host.patronNames(list.messages.map((m) => m.borrowernumber)));
      const params = { status: filter.status, channel: filter.channel, branch: filter.branch, type: filter.type };
      kit.render(req, res, 'queue.njk', {
        title: kit.staff(res).t('queue.title'),
        filter,
        list,
        patrons,
        statuses: QUEUE_STATUSES,
        channels: CHANNELS,
        types: MESSAGE_TYPES,
        branches: [...branches.values()].map((b) => ({ code: b.branchcode, name: b.branchname })),
        canResend: actions.canResend,
        pager: pagerOf('/queue', params, filter.page, list, PAGE_SIZE),
        // A resend is offered only by channels set up here; whether the patron has an address is checked per message.
        resendChannels: channelsSetUp(deps),
        back: req.originalUrl,
      });
    });

    router.post('/queue', allowed, async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const staff = kit.staff(res).account.borrowernumber;
      const actor = `staff:${staff}`;
      let action: QueueAction | null;
      let targets: number[];
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
      const channel = isChannel(body.channel) ? body.channel : null;
      if (action === 'resend' && (!channel || !actions.canResend)) {
        res.redirect(303, `${back}${sep}done=queue.need_channel`);
        return;
      }
      const outcomes = await actions.apply(action, targets, { actor, staffNumber: staff, channel });
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
