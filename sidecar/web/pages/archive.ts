/**
 * The archive: every message, searchable by patron (name or card number),
 * type, channel, status and date. Each message shows what was sent, as it
 * was sent, its status history, first send time and last change, and can
 * be printed on its own.
 */
import type { Request, Response } from 'express';
import { CHANNELS, MESSAGE_STATUSES, MESSAGE_TYPES } from '../../kernel';
import { filterParams, pagerOf, parseArchiveFilter, searchArchive } from '../messages';
import { idParam, type StaffPage } from '../kit';
import { staffNames } from '../words';

const PAGE_SIZE = 50;

export const archivePages: StaffPage = {
  nav: [{ id: 'archive', path: '/archive', label: 'nav.archive', permission: 'patron_messages', order: 20 }],
  mount(router, kit) {
    const { deps } = kit;
    const allowed = kit.requirePermission('patron_messages');

    router.get('/archive', allowed, async (req, res) => {
      const filter = parseArchiveFilter(req.query);
      const searched = Object.keys(filterParams(filter)).length > 0;
      const result = await searchArchive({ store: deps.store, staff: deps.staff, timezone: deps.settings.timezone }, filter, PAGE_SIZE);
      const patrons = Object.fromEntries(await deps.host.patronNames(result.messages.map((m) => m.borrowernumber)));
      kit.render(req, res, 'archive.njk', {
        title: kit.staff(res).t('archive.title'),
        filter,
        searched,
        result,
        patrons,
        types: MESSAGE_TYPES,
        channels: CHANNELS,
        statuses: MESSAGE_STATUSES,
        pager: pagerOf('/archive', filterParams(filter), filter.page, result, PAGE_SIZE),
      });
    });

    const showMessage = (template: string, embed: boolean) => async (req: Request, res: Response) => {
      const id = idParam(req.params.id);
      const message = id ? await deps.store.get(id) : null;
      if (!message) {
        kit.fail(req, res, 404, 'archive.no_such_message');
        return;
      }
      const [items, events, patrons] = await Promise.all([
        deps.store.items([message.id]),
        deps.store.events(message.id),
        deps.host.patronNames([message.borrowernumber]),
      ]);
      const branches = await deps.host.branches();
      const t = kit.staff(res).t;
      kit.render(req, res, template, {
        title: t('message.title', { id: message.id }),
        message,
        items,
        events,
        actorNames: await staffNames(
          deps.staff,
          events.map((e) => e.actor),
        ),
        patron: patrons.get(message.borrowernumber) ?? null,
        branch: message.branchcode ? (branches.get(message.branchcode) ?? null) : null,
        embed,
      });
    };
    router.get('/archive/:id', allowed, showMessage('message.njk', false));
    router.get('/archive/:id/print', allowed, showMessage('message-print.njk', true));
  },
};
