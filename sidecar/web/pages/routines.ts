/**
 * Routines: the list (filterable by message type and branch), one routine's
 * settings, and "run now", which makes the run's messages as proposals for
 * staff to look through before anything is sent.
 */
import { CHANNELS } from '../../kernel';
import type { Request, Response } from 'express';
import {
  ROUTINE_TYPES,
  choiceFromForm,
  choiceOfCron,
  cronOfChoice,
  routineFromForm,
  type FieldError,
  type RoutineForm,
  type ScheduleChoice,
} from '../../scheduling';
import { idParam, type PageKit, type StaffPage } from '../kit';
import { routineNameWords } from '../words';

const EMPTY: RoutineForm = {
  name: '',
  message_type: 'overdue',
  level: null,
  criteria: { branches: [], categories: [], itemtypes: [] },
  schedule: null,
  needs_approval: true,
  message_to_patrons: null,
  enabled: true,
};

async function formChoices(kit: PageKit) {
  const [branches, categories, itemtypes] = await Promise.all([
    kit.deps.host.branches(),
    kit.deps.staff.patronCategories(),
    kit.deps.staff.itemTypes(),
  ]);
  return {
    branches: [...branches.values()].map((b) => ({ code: b.branchcode, name: b.branchname })).sort((a, b) => a.name.localeCompare(b.name)),
    categories,
    itemtypes,
    types: ROUTINE_TYPES,
  };
}

/** Per channel, the languages in which staff have edited this type's template (else the shipped texts are used). */
async function templatesInUse(kit: PageKit, type: string): Promise<Array<{ channel: string; edited: string[] }>> {
  const rows = await kit.deps.templates.summaries({ message_type: type });
  return CHANNELS.map((channel) => ({
    channel,
    edited: rows.filter((r) => r.channel === channel).map((r) => (r.branchcode ? `${r.lang} (${r.branchcode})` : r.lang)),
  }));
}

/**
 * The routine form's fields with the schedule as cron: the picked choice (daily, weekdays, every N hours) turned into
 * cron, or the cron typed under "advanced". A form without the choice fields (the JSON API) posts cron as before.
 */
function routineFromPage(body: Record<string, unknown>): { input: RoutineForm; errors: FieldError[]; choice: ScheduleChoice | null } {
  if (typeof body.schedule_kind !== 'string') return { ...routineFromForm(body), choice: null };
  const choice = choiceFromForm(body);
  const cron = cronOfChoice(choice);
  const { input, errors } = routineFromForm({ ...body, schedule: cron ?? '' });
  if (cron === null) errors.push({ field: 'schedule', text: 'routine.error.schedule_choice' });
  return { input, errors, choice };
}

export const routinePages: StaffPage = {
  nav: [{ id: 'routines', path: '/routines', label: 'nav.routines', permission: 'routines', order: 10, also: ['/runs'] }],
  mount(router, kit) {
    const { deps } = kit;
    const { runs, approval, routineEditor: store } = deps;
    const allowed = kit.requirePermission('routines');

    router.get('/routines', allowed, async (req, res) => {
      const type =
        typeof req.query.type === 'string' && (ROUTINE_TYPES as readonly string[]).includes(req.query.type) ? req.query.type : '';
      const branch = typeof req.query.branch === 'string' ? req.query.branch.slice(0, 10) : '';
      const [routines, choices, waiting] = await Promise.all([
        store.list({ type, branch }),
        formChoices(kit),
        runs.recent({ limit: 20, waiting: true }),
      ]);
      kit.render(req, res, 'routines.njk', {
        title: kit.staff(res).t('routines.title'),
        routines,
        filter: { type, branch },
        waiting,
        ...choices,
      });
    });

    const showForm = async (
      req: Request,
      res: Response,
      routineId: number | null,
      input: RoutineForm,
      errors: FieldError[],
      status = 200,
      choice: ScheduleChoice | null = null,
    ) => {
      const t = kit.staff(res).t;
      const [choices, templates, recent] = await Promise.all([
        formChoices(kit),
        templatesInUse(kit, input.message_type),
        routineId ? runs.recent({ limit: 10, routineId }) : Promise.resolve([]),
      ]);
      kit.render(
        req,
        res,
        'routine.njk',
        {
          title: routineId ? t('routine.title', { name: routineNameWords(t, input.name) }) : t('routine.new'),
          routineId,
          routine: input,
          schedule: choice ?? choiceOfCron(input.schedule),
          errors,
          errorFor: Object.fromEntries(errors.map((e) => [e.field, t(e.text)])),
          templates,
          recent,
          ...choices,
        },
        { status },
      );
    };

    router.get('/routines/new', allowed, (req, res) => showForm(req, res, null, EMPTY, []));

    router.post('/routines/new', allowed, async (req, res) => {
      const { input, errors, choice } = routineFromPage((req.body ?? {}) as Record<string, unknown>);
      if (errors.length) return showForm(req, res, null, input, errors, 400, choice);
      const id = await store.create(input);
      if (!id) return showForm(req, res, null, input, [{ field: 'name', text: 'routine.error.name_taken' }], 409);
      await kit.audit.record({
        borrowernumber: kit.staff(res).account.borrowernumber,
        action: 'routine.create',
        objectType: 'routine',
        objectId: id,
        detail: { name: input.name, type: input.message_type },
        ip: kit.ip(req),
      });
      res.redirect(303, `/routines/${id}?done=routine.saved`);
    });

    router.get('/routines/:id', allowed, async (req, res) => {
      const id = idParam(req.params.id);
      const routine = id ? await store.get(id) : null;
      if (!routine) {
        kit.fail(req, res, 404, 'routine.not_found');
        return;
      }
      await showForm(req, res, routine.id, routine, []);
    });

    router.post('/routines/:id', allowed, async (req, res) => {
      const id = idParam(req.params.id);
      const routine = id ? await store.get(id) : null;
      if (!routine) {
        kit.fail(req, res, 404, 'routine.not_found');
        return;
      }
      const { input, errors, choice } = routineFromPage((req.body ?? {}) as Record<string, unknown>);
      if (errors.length) return showForm(req, res, routine.id, input, errors, 400, choice);
      if (!(await store.update(routine.id, input)))
        return showForm(req, res, routine.id, input, [{ field: 'name', text: 'routine.error.name_taken' }], 409);
      await kit.audit.record({
        borrowernumber: kit.staff(res).account.borrowernumber,
        action: 'routine.update',
        objectType: 'routine',
        objectId: routine.id,
        detail: { name: input.name },
        ip: kit.ip(req),
      });
      res.redirect(303, `/routines/${routine.id}?done=routine.saved`);
    });

    router.post('/routines/:id/run', allowed, async (req, res) => {
      const id = idParam(req.params.id);
      const routine = id ? await store.get(id) : null;
      if (!routine) {
        kit.fail(req, res, 404, 'routine.not_found');
        return;
      }
      const staff = kit.staff(res).account.borrowernumber;
      const started = await approval.startRoutine(routine, staff);
      if ('runId' in started) {
        await kit.audit.record({
          borrowernumber: staff,
          action: 'routine.run',
          objectType: 'run',
          objectId: started.runId,
          detail: { routineId: routine.id },
          ip: kit.ip(req),
        });
        res.redirect(303, `/runs/${started.runId}`);
        return;
      }
      await kit.audit.record({
        borrowernumber: staff,
        action: 'routine.run_refused',
        objectType: 'routine',
        objectId: routine.id,
        detail: { why: started.notRun },
        ip: kit.ip(req),
      });
      kit.fail(
        req,
        res,
        started.notRun === 'disabled' ? 409 : 500,
        started.notRun === 'disabled' ? 'routine.disabled' : 'routine.run_failed',
        { error: started.error ?? '' },
      );
    });
  },
};
