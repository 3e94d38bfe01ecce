/**
 * The patron tab: one patron's messages, the verification state of their
 * e-mail address and what bounces did to it (with a button to clear that),
 * on a page small enough for Koha's patron pages to show in a frame (no
 * navigation bar).
 */
import { patronEmail } from '../../contact';
import { idParam, textParam, type StaffPage } from '../kit';

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
      const [messages, verification, addressStates] = await Promise.all([
        deps.store.listForPatron(borrowernumber),
        deps.verification.service.recordOf(borrowernumber),
        deps.addressStates.forPatron(borrowernumber),
      ]);
      // The state of the address Koha has now; states of earlier addresses are history.
      const current = patronEmail(patron)?.toLowerCase() ?? null;
      const found = addressStates.find((s) => s.address === current && s.state !== 'usable');
      const bounceState = found ? { ...found, changedAt: found.changedAt.toISOString() } : null;
      const t = kit.staff(res).t;
      kit.render(req, res, 'patron.njk', {
        title: t('patron.title', { name: [patron.firstname, patron.surname].filter(Boolean).join(' '), card: patron.cardnumber ?? '' }),
        patron,
        messages,
        verification,
        bounceState,
        cleared: req.query.done === 'cleared',
        embed: req.query.embed !== '0',
      });
    });

    // Staff say the address works again (the patron confirmed it): notices use it again; the clearing is audited.
    router.post('/patrons/:borrowernumber/address-state', kit.requirePermission('patron_messages'), async (req, res) => {
      const borrowernumber = idParam(req.params.borrowernumber);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const address = textParam(body.address, 254);
      if (!borrowernumber || !address) {
        kit.fail(req, res, 404, 'patron.not_found');
        return;
      }
      const staff = kit.staff(res).account.borrowernumber;
      const cleared = await deps.addressStates.clear(borrowernumber, address, staff, deps.clock.now());
      await kit.audit.record({
        borrowernumber: staff,
        action: 'patron.address_state_cleared',
        objectType: 'patron',
        objectId: borrowernumber,
        detail: { cleared },
        ip: kit.ip(req),
      });
      const embed = body.embed === '0' ? '&embed=0' : '';
      res.redirect(303, `/patrons/${String(borrowernumber)}/messages?done=cleared${embed}`);
    });
  },
};
