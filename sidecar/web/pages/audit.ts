/**
 * The audit record, newest first, for superlibrarians: who signed in, ran
 * and approved what, and what they did in the queue.
 */
import { idParam, type StaffPage } from '../kit';

export const auditPages: StaffPage = {
  nav: [{ id: 'audit', path: '/audit', label: 'nav.audit', permission: 'audit', order: 90 }],
  mount(router, kit) {
    router.get('/audit', kit.requirePermission('audit'), async (req, res) => {
      const staffNumber = typeof req.query.staff === 'string' ? idParam(req.query.staff) : null;
      const action = typeof req.query.action === 'string' && /^[a-z_.]{1,64}$/.test(req.query.action) ? req.query.action : null;
      const rows = await kit.audit.recent({ limit: 200, borrowernumber: staffNumber, action });
      const names = Object.fromEntries(
        await kit.deps.host.patronNames(rows.map((r) => r.borrowernumber).filter((n): n is number => n !== null)),
      );
      kit.render(req, res, 'audit.njk', {
        title: kit.staff(res).t('audit.title'),
        rows,
        names,
        filter: { staff: staffNumber ?? '', action: action ?? '' },
      });
    });
  },
};
