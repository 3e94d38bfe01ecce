/**
 * Rules: the matrix per message type and level, which rule wins for whom in
 * plain words, a "who wins for…" form, and adding, changing and removing
 * rules, each behind its own permission. With kmc_settings
 * `rules_own_branch_only` = 1 staff may touch only their own branch's rules;
 * the rest is shown read-only and a POST to it is answered 403.
 */
import type { Request, Response } from 'express';
import { CHANNELS, type ChannelName } from '../../kernel';
import { ConflictError, RefusedError } from '../../errors';
import {
  MESSAGE_TYPES,
  OVERDUE_LEVELS,
  resolveRule,
  ruleApplies,
  specificity,
  type MessageType,
  type Rule,
  type RuleInput,
  type RuleSubject,
} from '../../rules';
import { formOf, idParam, listParam, textParam, type StaffContext, type StaffPage } from '../kit';
import type { Translate } from '../i18n';

/** Why the winner outranks the rule that would otherwise apply. */
export type WinReason = 'only' | 'branch' | 'category' | 'itemtype' | 'window' | 'newer';

export interface RuleExplanation {
  winner: Rule | null;
  /** The best of the other rules that apply, the one the winner beat. */
  runnerUp: Rule | null;
  reason: WinReason | null;
}

/** The winning rule for a subject and why, by the same order resolveRule uses. Pure. */
export function explainRule(rules: Rule[], subject: RuleSubject): RuleExplanation {
  const winner = resolveRule(rules, subject);
  if (!winner) return { winner: null, runnerUp: null, reason: null };
  const runnerUp = resolveRule(
    rules.filter((r) => r.id !== winner.id),
    subject,
  );
  if (!runnerUp) return { winner, runnerUp: null, reason: 'only' };
  let reason: WinReason;
  if (specificity(winner) !== specificity(runnerUp)) {
    // The most dominant variable the two differ on decides (branch > category > item type).
    if (!!winner.branchcode !== !!runnerUp.branchcode) reason = 'branch';
    else if (!!winner.categorycode !== !!runnerUp.categorycode) reason = 'category';
    else reason = 'itemtype';
  } else if (!!(winner.valid_from || winner.valid_to) !== !!(runnerUp.valid_from || runnerUp.valid_to)) {
    reason = 'window';
  } else {
    reason = 'newer';
  }
  return { winner, runnerUp, reason };
}

/** The subject a rule was written for: its own branch, category and item type. */
function subjectOf(r: Rule, today: string): RuleSubject {
  const date = r.valid_from && r.valid_from > today ? r.valid_from : r.valid_to && r.valid_to < today ? r.valid_to : today;
  return { branchcode: r.branchcode, categorycode: r.categorycode, itemtype: r.itemtype, date };
}

export function scopeText(
  t: Translate,
  s: { branchcode: string | null; categorycode: string | null; itemtype: string | null; date?: string },
): string {
  const parts: string[] = [];
  if (s.categorycode) parts.push(t('rules.scope.category', { code: s.categorycode }));
  if (s.itemtype) parts.push(t('rules.scope.itemtype', { code: s.itemtype }));
  if (s.branchcode) parts.push(t('rules.scope.branch', { code: s.branchcode }));
  let text = parts.length ? parts.join(' ') : t('rules.scope.everyone');
  if (s.date) text += ` ${t('rules.scope.date', { date: s.date })}`;
  return text;
}

/** "For patron category KI at branch CPL, rule #12 wins: a branch rule outranks …" */
export function explanationText(t: Translate, subject: RuleSubject | Omit<RuleSubject, 'date'>, e: RuleExplanation): string {
  const scope = scopeText(t, subject);
  if (!e.winner) return t('rules.why.none', { scope });
  const why = t(`rules.why.${e.reason}`, { loser: e.runnerUp?.id ?? '' });
  const head = t('rules.wins', { scope, id: e.winner.id, why });
  return e.winner.is_used ? head : `${head} ${t('rules.wins_unused')}`;
}

/** Whether this staff member may touch a rule for this branch (null = every branch). */
function mayTouchBranch(staff: StaffContext, ownOnly: boolean, branchcode: string | null): boolean {
  return !ownOnly || (!!branchcode && branchcode === staff.account.branchcode);
}

interface FormErrors {
  [field: string]: string;
}

const CODE = /^[A-Za-z0-9_-]{1,10}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A rule from the form, with field errors in the staff member's language. */
export function ruleFromForm(
  body: Record<string, unknown>,
  t: Translate,
  fixed?: { message_type: MessageType; level: number },
): { input: RuleInput; errors: FormErrors } {
  const errors: FormErrors = {};
  const type = fixed?.message_type ?? (textParam(body.message_type, 32) as MessageType);
  if (!(MESSAGE_TYPES as readonly string[]).includes(type)) errors.message_type = t('rules.error.type');
  const levelText = textParam(body.level, 2);
  const level = fixed?.level ?? (type === 'overdue' ? Number(levelText || '1') : 0);
  if (type === 'overdue' && !(OVERDUE_LEVELS as readonly number[]).includes(level)) errors.level = t('rules.error.level');
  const code = (name: 'branchcode' | 'categorycode' | 'itemtype') => {
    const v = textParam(body[name], 20);
    if (v && !CODE.test(v)) errors[name] = t('rules.error.code', { field: t(`rules.field.${name}`) });
    return v || null;
  };
  const day = (name: 'valid_from' | 'valid_to') => {
    const v = textParam(body[name], 20);
    if (v && (!DAY.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))))
      errors[name] = t('rules.error.date', { field: t(`rules.field.${name}`) });
    return v || null;
  };
  const whole = (name: 'delay_days', max: number) => {
    const v = textParam(body[name], 10) || '0';
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > max) errors[name] = t('rules.error.days', { field: t(`rules.field.${name}`) });
    return n;
  };
  const amount = (name: 'fee_per_notice' | 'fee_per_item') => {
    const v = (textParam(body[name], 12) || '0').replace(',', '.');
    const n = Number(v);
    if (!/^\d+(\.\d{1,2})?$/.test(v)) errors[name] = t('rules.error.amount', { field: t(`rules.field.${name}`) });
    return n;
  };
  const channels = listParam(body.channels).filter((c): c is ChannelName => (CHANNELS as readonly string[]).includes(c));
  const input: RuleInput = {
    message_type: type,
    level,
    branchcode: code('branchcode'),
    categorycode: code('categorycode'),
    itemtype: code('itemtype'),
    valid_from: day('valid_from'),
    valid_to: day('valid_to'),
    is_used: body.is_used === '1',
    delay_days: whole('delay_days', 3650),
    channels,
    send_all_channels: body.send_all_channels === '1',
    fee_per_notice: amount('fee_per_notice'),
    fee_per_item: amount('fee_per_item'),
    note: textParam(body.note, 255) || null,
  };
  if (input.valid_from && input.valid_to && !errors.valid_from && !errors.valid_to && input.valid_from > input.valid_to)
    errors.valid_to = t('rules.error.window');
  if (input.is_used && !channels.length) errors.channels = t('rules.error.channels');
  return { input, errors };
}

const EMPTY: RuleInput = {
  message_type: 'overdue',
  level: 1,
  branchcode: null,
  categorycode: null,
  itemtype: null,
  valid_from: null,
  valid_to: null,
  is_used: true,
  delay_days: 0,
  channels: ['email'],
  send_all_channels: false,
  fee_per_notice: 0,
  fee_per_item: 0,
  note: null,
};

export const rulePages: StaffPage = {
  nav: [{ id: 'rules', path: '/rules', label: 'nav.rules', permission: 'rules', order: 50 }],
  mount(router, kit) {
    const { deps } = kit;
    const store = deps.rules;
    const today = () => {
      const parts = new Intl.DateTimeFormat('sv-SE', {
        timeZone: deps.settings.timezone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      }).format(deps.clock.now());
      return parts.slice(0, 10);
    };
    const choices = async () => {
      const [branches, categories, itemtypes] = await Promise.all([
        deps.host.branches(),
        deps.staff.patronCategories(),
        deps.staff.itemTypes(),
      ]);
      return {
        branches: [...branches.values()]
          .map((b) => ({ code: b.branchcode, name: b.branchname }))
          .sort((a, b) => a.name.localeCompare(b.name)),
        categories,
        itemtypes,
        types: MESSAGE_TYPES,
        levels: OVERDUE_LEVELS,
        channels: CHANNELS,
      };
    };

    /** 403 with a page unless this staff member may touch rules of this branch. */
    const branchGuard = async (req: Request, res: Response, branches: Array<string | null>): Promise<boolean> => {
      const staff = kit.staff(res);
      const ownOnly = await deps.rulesOwnBranchOnly();
      if (branches.every((b) => mayTouchBranch(staff, ownOnly, b))) return true;
      deps.logger.info('web.rules.other_branch', { staff: staff.account.borrowernumber, branch: staff.account.branchcode, path: req.path });
      kit.fail(req, res, 403, 'rules.error.other_branch', { branch: staff.account.branchcode });
      return false;
    };

    router.get('/rules', kit.requirePermission('rules'), async (req, res) => {
      const staff = kit.staff(res);
      const t = staff.t;
      const q = req.query as Record<string, unknown>;
      const type = (MESSAGE_TYPES as readonly string[]).includes(String(q.type)) ? (q.type as MessageType) : '';
      const [all, ownOnly, ch] = await Promise.all([store.list(type ? { messageType: type } : {}), deps.rulesOwnBranchOnly(), choices()]);
      const day = today();
      const groups: Array<{ type: MessageType; level: number; rows: Array<Rule & { why: string; touch: boolean; removable: boolean }> }> =
        [];
      for (const r of all) {
        let g = groups.find((x) => x.type === r.message_type && x.level === r.level);
        if (!g) groups.push((g = { type: r.message_type, level: r.level, rows: [] }));
        const same = all.filter((x) => x.message_type === r.message_type && x.level === r.level);
        const subject = subjectOf(r, day);
        const touch = mayTouchBranch(staff, ownOnly, r.branchcode);
        g.rows.push({
          ...r,
          why: explanationText(
            t,
            { branchcode: r.branchcode, categorycode: r.categorycode, itemtype: r.itemtype },
            explainRule(same, subject),
          ),
          touch,
          removable: touch && !r.is_baseline,
        });
      }
      // The "who wins for…" form, answered on the same page.
      let answer: string | null = null;
      let answerId: number | null = null;
      const who = {
        type: (MESSAGE_TYPES as readonly string[]).includes(String(q.w_type)) ? String(q.w_type) : '',
        level: textParam(q.w_level, 2),
        branchcode: textParam(q.w_branch, 10),
        categorycode: textParam(q.w_category, 10),
        itemtype: textParam(q.w_itemtype, 10),
        date: DAY.test(textParam(q.w_date, 10)) ? textParam(q.w_date, 10) : day,
      };
      if (who.type) {
        const level = who.type === 'overdue' ? Math.min(5, Math.max(1, Number(who.level) || 1)) : 0;
        const rules = await store.forType(who.type as MessageType, level);
        const subject: RuleSubject = {
          branchcode: who.branchcode || null,
          categorycode: who.categorycode || null,
          itemtype: who.itemtype || null,
          date: who.date,
        };
        const e = explainRule(
          rules.filter((r) => ruleApplies(r, subject)),
          subject,
        );
        answer = explanationText(t, subject, e);
        answerId = e.winner?.id ?? null;
      }
      kit.render(req, res, 'rules.njk', {
        title: t('rules.title'),
        groups,
        filter: { type },
        who,
        answer,
        answerId,
        ownOnly,
        ownBranch: staff.account.branchcode,
        ...ch,
      });
    });

    const showForm = async (req: Request, res: Response, rule: Rule | null, input: RuleInput, errors: FormErrors, status = 200) => {
      const staff = kit.staff(res);
      const ownOnly = await deps.rulesOwnBranchOnly();
      const readOnly = rule ? !(staff.permissions.has('rules_change') && mayTouchBranch(staff, ownOnly, rule.branchcode)) : false;
      kit.render(
        req,
        res,
        'rule.njk',
        {
          title: rule ? staff.t('rule.title', { id: rule.id }) : staff.t('rule.new'),
          rule,
          input,
          errors,
          errorList: Object.entries(errors).map(([field, text]) => ({ field, text })),
          readOnly,
          removable:
            !!rule && !rule.is_baseline && staff.permissions.has('rules_remove') && mayTouchBranch(staff, ownOnly, rule.branchcode),
          ownOnly,
          ownBranch: staff.account.branchcode,
          ...(await choices()),
        },
        { status },
      );
    };

    router.get('/rules/new', kit.requirePermission('rules_add'), async (req, res) => {
      const staff = kit.staff(res);
      const ownOnly = await deps.rulesOwnBranchOnly();
      await showForm(req, res, null, { ...EMPTY, branchcode: ownOnly ? staff.account.branchcode : null }, {});
    });

    router.post('/rules/new', kit.requirePermission('rules_add'), async (req, res) => {
      const staff = kit.staff(res);
      const { input, errors } = ruleFromForm(formOf(req), staff.t);
      if (Object.keys(errors).length) return showForm(req, res, null, input, errors, 400);
      if (!(await branchGuard(req, res, [input.branchcode ?? null]))) return;
      let id: number;
      try {
        id = await store.create(input);
      } catch (err) {
        if (err instanceof RefusedError)
          return showForm(req, res, null, input, { rule: staff.t('rules.error.refused', { reason: err.message }) }, 400);
        throw err;
      }
      await kit.audit.record({
        borrowernumber: staff.account.borrowernumber,
        action: 'rule.create',
        objectType: 'rule',
        objectId: id,
        detail: {
          type: input.message_type,
          level: input.level,
          branchcode: input.branchcode,
          categorycode: input.categorycode,
          itemtype: input.itemtype,
        },
        ip: kit.ip(req),
      });
      deps.logger.info('web.rules.created', { staff: staff.account.borrowernumber, ruleId: id });
      res.redirect(303, `/rules/${id}?done=rule.saved`);
    });

    router.get('/rules/:id', kit.requirePermission('rules'), async (req, res) => {
      const id = idParam(req.params.id);
      const rule = id ? await store.get(id) : null;
      if (!rule) {
        kit.fail(req, res, 404, 'rule.not_found');
        return;
      }
      await showForm(req, res, rule, rule, {});
    });

    router.post('/rules/:id', kit.requirePermission('rules_change'), async (req, res) => {
      const staff = kit.staff(res);
      const id = idParam(req.params.id);
      const rule = id ? await store.get(id) : null;
      if (!rule) {
        kit.fail(req, res, 404, 'rule.not_found');
        return;
      }
      const { input, errors } = ruleFromForm(formOf(req), staff.t, { message_type: rule.message_type, level: rule.level });
      if (!(await branchGuard(req, res, [rule.branchcode, input.branchcode ?? null]))) return;
      if (Object.keys(errors).length) return showForm(req, res, rule, input, errors, 400);
      const { message_type: _t, level: _l, ...patch } = input;
      try {
        await store.update(rule.id, patch);
      } catch (err) {
        if (err instanceof RefusedError || err instanceof ConflictError) {
          return showForm(req, res, rule, input, { rule: staff.t('rules.error.refused', { reason: err.message }) }, 400);
        }
        throw err;
      }
      await kit.audit.record({
        borrowernumber: staff.account.borrowernumber,
        action: 'rule.update',
        objectType: 'rule',
        objectId: rule.id,
        detail: {
          before: {
            branchcode: rule.branchcode,
            categorycode: rule.categorycode,
            itemtype: rule.itemtype,
            channels: rule.channels,
            delay_days: rule.delay_days,
            is_used: rule.is_used,
          },
          after: {
            branchcode: input.branchcode,
            categorycode: input.categorycode,
            itemtype: input.itemtype,
            channels: input.channels,
            delay_days: input.delay_days,
            is_used: input.is_used,
          },
        },
        ip: kit.ip(req),
      });
      deps.logger.info('web.rules.updated', { staff: staff.account.borrowernumber, ruleId: rule.id });
      res.redirect(303, `/rules/${rule.id}?done=rule.saved`);
    });

    router.post('/rules/:id/remove', kit.requirePermission('rules_remove'), async (req, res) => {
      const staff = kit.staff(res);
      const id = idParam(req.params.id);
      const rule = id ? await store.get(id) : null;
      if (!rule) {
        kit.fail(req, res, 404, 'rule.not_found');
        return;
      }
      if (!(await branchGuard(req, res, [rule.branchcode]))) return;
      try {
        await store.deleteRule(rule.id);
      } catch (err) {
        if (err instanceof ConflictError) {
          await kit.audit.record({
            borrowernumber: staff.account.borrowernumber,
            action: 'rule.remove_refused',
            objectType: 'rule',
            objectId: rule.id,
            detail: { why: 'baseline' },
            ip: kit.ip(req),
          });
          kit.fail(req, res, 409, 'rules.error.baseline', { id: rule.id });
          return;
        }
        throw err;
      }
      await kit.audit.record({
        borrowernumber: staff.account.borrowernumber,
        action: 'rule.remove',
        objectType: 'rule',
        objectId: rule.id,
        detail: {
          type: rule.message_type,
          level: rule.level,
          branchcode: rule.branchcode,
          categorycode: rule.categorycode,
          itemtype: rule.itemtype,
        },
        ip: kit.ip(req),
      });
      deps.logger.info('web.rules.removed', { staff: staff.account.borrowernumber, ruleId: rule.id });
      res.redirect(303, `/rules?type=${encodeURIComponent(rule.message_type)}&done=rule.removed`);
    });
  },
};
