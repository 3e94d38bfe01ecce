/**
 * The patron tab: one patron's messages and the verification state of
 * their e-mail address, on a page small enough for Koha's patron pages to
 * show in a frame (no navigation bar).
 */
import { idParam, type StaffPage } from '../kit';

export const patronPages: StaffPage = {
  mount(router, kit) {
    const { deps } = kit;
    router.get('/patrons/:borrowernumber/messages', kit.requirePermission('patron_messages'), async (req, res) => {
      const borrowernumber = idParam(req.params.borrowernumber);
      const patron = borrowernumber ? await deps.host.patron(borrowernumber) : null;
      if (!borrowernumber || !patron) {
        kit.fail(req, res, 404, 'patron.not_found');
        return;
      }
      const [messages, verification] = await Promise.all([
        deps.store.listForPatron(borrowernumber),
        deps.verification.service.recordOf(borrowernumber),
      ]);
      const t = kit.staff(res).t;
      kit.render(req, res, 'patron.njk', {
        title: t('patron.title', { name: [patron.firstname, patron.surname].filter(Boolean).join(' '), card: patron.cardnumber ?? '' }),
        patron,
        messages,
        verification,
        embed: req.query.embed !== '0',
      });
    });
  },
};
