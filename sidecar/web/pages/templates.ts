/**
 * Notice templates: per type, channel, language and branch. A staff edit is
 * a kmc_templates row that overrides the shipped file. Every part is checked
 * against the notice template allow-list before anything is stored, and a
 * refusal names the part, the line and the reason. The preview renders the
 * draft on sample data on the server (a POST of the form), and the page's own
 * script asks the same preview endpoint as staff type.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Request, Response } from 'express';
import { TemplateError } from '../../errors';
import { CHANNELS, MESSAGE_TYPES, type ChannelName, type MessageType } from '../../kernel';
import {
  NOTICE_TEMPLATE_DIR,
  NOTICE_TEMPLATE_FILTERS,
  checkNoticeTemplate,
  htmlFromText,
  renderNoticeTemplate,
  type TemplateKey,
  type TemplateStore,
} from '../../rendering';
import { segmentInfo, type SegmentInfo } from '../../channels';
import { previewPatronData } from '../../notices';
import { formOf, idParam, listParam, textParam, type PageKit, type StaffPage } from '../kit';
import type { MessageKey } from '../i18n';

export const TEMPLATE_PARTS = ['subject', 'text', 'html'] as const;
export type TemplatePart = (typeof TEMPLATE_PARTS)[number];

const COMMON = [
  'patron.firstname',
  'patron.surname',
  'patron.cardnumber',
  'branch.name',
  'branch.email',
  'branch.phone',
  'today',
  'message',
];
const ITEMS = ['items', 'item.title', 'item.author', 'item.barcode', 'item.due'];

/** The variables each message type's templates may use, for the page's list. */
export const TEMPLATE_VARIABLES: Record<MessageType, string[]> = {
  hold_waiting: [...COMMON, 'items', 'item.title', 'item.author', 'item.pickup_by', 'pickup_branch', 'last_pickup_day'],
  hold_reminder: [...COMMON, 'items', 'item.title', 'item.author', 'item.pickup_by', 'pickup_branch', 'last_pickup_day'],
  predue: [...COMMON, ...ITEMS],
  overdue: [...COMMON, ...ITEMS, 'level', 'fee', 'fee_text'],
  replacement_bill: [...COMMON, ...ITEMS, 'item.price_text', 'total_text', 'pay_by', 'payment_term_days'],
  welcome: [...COMMON],
  email_verification: [...COMMON, 'link', 'expires'],
  staff_message: [...COMMON, 'subject', 'text'],
};

/** Made-up data in the shape the engine gives templates, so a preview shows every variable filled in. */
export function sampleData(type: MessageType): Record<string, unknown> {
  const items = [
    {
      title: 'Röda rummet',
      author: 'Strindberg, August',
      barcode: '39999000001',
      due: '2026-11-10',
      pickup_by: '2026-12-01',
      price_text: '250.00 kr',
    },
    {
      title: 'Gösta Berlings saga',
      author: 'Lagerlöf, Selma',
      barcode: '39999000002',
      due: '2026-11-15',
      pickup_by: '2026-12-01',
      price_text: '199.00 kr',
    },
  ];
  return {
    patron: { firstname: 'Åsa', surname: 'Öberg', cardnumber: '23529000001' },
    branch: { name: 'Centralbiblioteket', email: 'central@bibliotek.example.org', phone: '+46 8 123 456' },
    today: '2026-11-24',
    message: '',
    items,
    level: type === 'overdue' ? 2 : 0,
    fee: type === 'overdue' ? 10 : 0,
    fee_text: type === 'overdue' ? '10.00 kr' : '',
    pickup_branch: 'Centralbiblioteket',
    last_pickup_day: '2026-12-01',
    total_text: '449.00 kr',
    pay_by: '2026-12-24',
    payment_term_days: 30,
    link: 'https://library.example.org/verify/sample',
    expires: '2026-12-01',
    subject: 'A message from the library',
    text: 'Your reading list is ready at the desk.',
  };
}

/** What "Insert" puts into the template for a placeholder: the items table is a loop with a line per item. */
export function placeholderSnippet(name: string, type: MessageType): string {
  if (name === 'items') {
    // A loan's line ends with its due date, a hold's with the day to pick it up by.
    const when = TEMPLATE_VARIABLES[type].includes('item.due') ? 'item.due' : 'item.pickup_by';
    return `{% for item in items %}\n{{ item.title }}, {{ ${when} }}\n{% endfor %}`;
  }
  return `{{ ${name} }}`;
}

/** A placeholder's value in the preview's data (an item's from the first item), for the list's example column. */
export function placeholderExample(name: string, data: Record<string, unknown>): string {
  const items = Array.isArray(data.items) ? (data.items as Array<Record<string, unknown>>) : [];
  if (name === 'items') return items.map((i) => (typeof i.title === 'string' ? i.title : '')).join('; ');
  const [root, ...rest] = name.split('.');
  let value: unknown = root === 'item' ? items[0] : data[root];
  for (const part of rest) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

const OUTPUT = /\{\{-?\s*([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)/g;
const LOOP = /\{%-?\s*for\s+([A-Za-z_]\w*)(?:\s*,\s*([A-Za-z_]\w*))?\s+in\s+([A-Za-z_][\w.]*)/g;
const SET = /\{%-?\s*set\s+([A-Za-z_]\w*)/g;

/**
 * Placeholders in a draft that this message type does not have: they would print nothing, so staff are warned before
 * saving. A loop's own name (`item` in `for item in items`) stands for the list's entries; Nunjucks' `loop` is known.
 */
export function unknownPlaceholders(type: MessageType, draft: TemplateDraft): string[] {
  const known = new Set(TEMPLATE_VARIABLES[type]);
  const roots = new Set([...known].map((v) => v.split('.')[0]));
  const out = new Set<string>();
  for (const source of [draft.subject, draft.text, draft.html]) {
    const local = new Set(['loop']);
    for (const m of source.matchAll(SET)) local.add(m[1]);
    for (const m of source.matchAll(LOOP)) {
      local.add(m[1]);
      if (m[2]) local.add(m[2]);
      if (!roots.has(m[3].split('.')[0]) && !local.has(m[3].split('.')[0])) out.add(m[3]);
    }
    for (const m of source.matchAll(OUTPUT)) {
      const name = m[1];
      const root = name.split('.')[0];
      if (known.has(name)) continue;
      // The loop over items names each entry `item`; its fields are the item.* placeholders.
      if (local.has(root) && root !== 'item') continue;
      if (!name.includes('.') && roots.has(name)) continue;
      out.add(name);
    }
  }
  return [...out];
}

export type { TemplateKey } from '../../rendering';

export interface TemplateDraft {
  subject: string;
  text: string;
  html: string;
}

export interface TemplateProblem {
  part: TemplatePart;
  line: number | null;
  reason: string;
}

const LANG = /^[a-z]{2}(-[A-Z]{2})?$/;
const BRANCH = /^[A-Za-z0-9_-]{0,10}$/;

export function templateKeyFrom(q: Record<string, unknown>): TemplateKey | null {
  const type = textParam(q.type, 32);
  const channel = textParam(q.channel, 16);
  const lang = textParam(q.lang, 8) || 'en';
  const branchcode = textParam(q.branch, 10);
  if (
    !(MESSAGE_TYPES as readonly string[]).includes(type) ||
    !(CHANNELS as readonly string[]).includes(channel) ||
    !LANG.test(lang) ||
    !BRANCH.test(branchcode)
  )
    return null;
  return { message_type: type as MessageType, channel: channel as ChannelName, lang, branchcode };
}

/** Which parts a channel has: an SMS is text only, a letter has no HTML. */
export function partsOf(channel: ChannelName): TemplatePart[] {
  return channel === 'email' ? ['subject', 'text', 'html'] : channel === 'print' ? ['subject', 'text'] : ['text'];
}

function shippedPart(lang: string, type: string, channel: string, part: string): string | null {
  const full = path.join(NOTICE_TEMPLATE_DIR, lang.split('-')[0], `${type}.${channel}.${part}.njk`);
  return existsSync(full) ? readFileSync(full, 'utf8') : null;
}

/** The draft staff start from: their edit if there is one, else the shipped file. */
export async function loadTemplate(
  templates: TemplateStore,
  key: TemplateKey,
): Promise<{ draft: TemplateDraft; edited: boolean; updatedAt: string | null }> {
  const row = await templates.find(key);
  if (row)
    return {
      draft: { subject: row.subject ?? '', text: row.body_text, html: row.body_html ?? '' },
      edited: true,
      updatedAt: row.updated_at,
    };
  const part = (p: string) => shippedPart(key.lang, key.message_type, key.channel, p) ?? '';
  return {
    draft: { subject: part('subject'), text: part('text'), html: key.channel === 'email' ? part('html') : '' },
    edited: false,
    updatedAt: null,
  };
}

/** Every part of a draft against the allow-list; the first problem of each part. */
export function checkDraft(key: TemplateKey, draft: TemplateDraft): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  for (const part of partsOf(key.channel)) {
    const source = draft[part];
    if (part === 'text' && !source.trim()) {
      problems.push({ part, line: null, reason: 'the text is empty' });
      continue;
    }
    try {
      checkNoticeTemplate(source, `${key.message_type}.${key.channel}.${part}`);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      const d = err.details as { line?: number; reason?: string };
      problems.push({ part, line: d.line ?? null, reason: d.reason ?? err.message });
    }
  }
  return problems;
}

export interface Preview {
  subject: string;
  text: string;
  html: string | null;
  sms: SegmentInfo | null;
  problems: TemplateProblem[];
}

/** The draft rendered on sample data, or on the given data; a part that fails names its line and reason instead. */
export function previewDraft(key: TemplateKey, draft: TemplateDraft, given?: Record<string, unknown>): Preview {
  const problems = checkDraft(key, draft);
  const out: Preview = { subject: '', text: '', html: null, sms: null, problems };
  if (problems.length) return out;
  const data = given ?? sampleData(key.message_type);
  const run = (part: TemplatePart, source: string, autoescape: boolean): string => {
    try {
      return renderNoticeTemplate(source, data, { name: `${key.message_type}.${key.channel}.${part}`, autoescape });
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      const d = err.details as { line?: number; reason?: string };
      problems.push({ part, line: d.line ?? null, reason: d.reason ?? err.message });
      return '';
    }
  };
  const parts = partsOf(key.channel);
  if (parts.includes('subject') && draft.subject.trim()) out.subject = run('subject', draft.subject, false).replace(/\s+/g, ' ').trim();
  out.text = run('text', draft.text, false)
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  if (key.channel === 'email') out.html = draft.html.trim() ? run('html', draft.html, true) : htmlFromText(out.text);
  if (key.channel === 'sms') out.sms = segmentInfo(out.text);
  return out;
}

/**
 * Stores a staff edit after checking every part; a refused draft stores
 * nothing and throws the first problem as a TemplateError.
 */
export async function saveTemplate(
  templates: TemplateStore,
  key: TemplateKey,
  draft: TemplateDraft,
  borrowernumber: number | null,
): Promise<void> {
  const problems = checkDraft(key, draft);
  if (problems.length) {
    const p = problems[0];
    throw new TemplateError(
      `the ${p.part} of ${key.message_type} by ${key.channel} was refused${p.line ? ` at line ${p.line}` : ''}: ${p.reason}`,
      { template: `${key.message_type}.${key.channel}.${p.part}`, line: p.line ?? undefined, reason: p.reason },
    );
  }
  const parts = partsOf(key.channel);
  await templates.save(key, {
    subject: parts.includes('subject') && draft.subject.trim() ? draft.subject : null,
    body_text: draft.text,
    body_html: parts.includes('html') && draft.html.trim() ? draft.html : null,
    updated_by: borrowernumber,
  });
}

function draftFrom(body: Record<string, unknown>): TemplateDraft {
  const field = (name: string) => (typeof body[name] === 'string' ? body[name].replace(/\r\n/g, '\n').slice(0, 200_000) : '');
  return { subject: field('subject'), text: field('text'), html: field('html') };
}

function availableLangs(): string[] {
  try {
    return readdirSync(NOTICE_TEMPLATE_DIR)
      .filter((d) => LANG.test(d))
      .sort();
  } catch {
    return ['en'];
  }
}

/** Whom the preview shows: sample data, or a patron staff found (by name or card number) with the loans they ticked. */
interface PreviewChoice {
  query: string;
  found: Array<{ borrowernumber: number; name: string; cardnumber: string | null }>;
  patron: { borrowernumber: number; name: string } | null;
  loans: Array<{ id: number; title: string; due: string; chosen: boolean }>;
  data: Record<string, unknown>;
}

async function previewChoice(kit: PageKit, key: TemplateKey, body: Record<string, unknown>): Promise<PreviewChoice> {
  const { deps } = kit;
  const query = textParam(body.preview_q, 100);
  const sample = sampleData(key.message_type);
  const out: PreviewChoice = { query, found: [], patron: null, loans: [], data: sample };
  if (query) {
    const ids = await deps.staff.findPatrons(query, 20);
    const names = await deps.host.patronNames(ids);
    out.found = ids.map((n) => ({ borrowernumber: n, name: names.get(n)?.name ?? `#${n}`, cardnumber: names.get(n)?.cardnumber ?? null }));
  }
  const borrowernumber = idParam(body.preview_patron);
  if (!borrowernumber) return out;
  // Until the loans were shown on the form, every loan of the patron is in the preview.
  const ticked = body.preview_loans_shown === '1' ? listParam(body.preview_loan).map(Number) : null;
  const real = await previewPatronData(deps.notices, key.message_type, borrowernumber, ticked);
  if (!real) return out;
  const name = [real.patron.firstname, real.patron.surname].filter(Boolean).join(' ');
  out.patron = { borrowernumber, name };
  if (!out.found.some((f) => f.borrowernumber === borrowernumber))
    out.found.unshift({ borrowernumber, name, cardnumber: real.patron.cardnumber });
  const items = real.data.items as Array<{ title: string; due: string }>;
  out.loans = real.loans.map((l) => ({
    id: l.issue_id,
    title: l.biblio_title ?? '',
    due: items.find((i) => i.title === (l.biblio_title ?? ''))?.due ?? l.date_due,
    chosen: ticked === null || ticked.includes(l.issue_id),
  }));
  // What the patron's record does not give (a fee, a pickup branch …) stays as in the sample.
  out.data = { ...sample, ...real.data };
  return out;
}

export const templatePages: StaffPage = {
  nav: [{ id: 'templates', path: '/templates', label: 'nav.templates', permission: 'templates', order: 55 }],
  mount(router, kit: PageKit) {
    const { deps } = kit;
    const langs = availableLangs();

    router.get('/templates', kit.requirePermission('templates'), async (req, res) => {
      const t = kit.staff(res).t;
      const edited = await deps.templates.summaries();
      const branches = [...(await deps.host.branches()).values()].map((b) => ({ code: b.branchcode, name: b.branchname }));
      kit.render(req, res, 'templates.njk', {
        title: t('templates.title'),
        types: MESSAGE_TYPES,
        channels: CHANNELS,
        langs,
        edited,
        branches,
      });
    });

    const show = async (
      req: Request,
      res: Response,
      key: TemplateKey,
      draft: TemplateDraft,
      opts: {
        preview?: Preview;
        status?: number;
        edited?: boolean;
        refused?: TemplateProblem[];
        body?: Record<string, unknown>;
        unknownOnSave?: boolean;
      } = {},
    ) => {
      const t = kit.staff(res).t;
      const branches = [...(await deps.host.branches()).values()].map((b) => ({ code: b.branchcode, name: b.branchname }));
      const choice = await previewChoice(kit, key, opts.body ?? {});
      const preview = opts.preview ?? previewDraft(key, draft, choice.data);
      const placeholders = TEMPLATE_VARIABLES[key.message_type].map((name) => ({
        name,
        meaning: t(`placeholder.${name}` as MessageKey),
        example: placeholderExample(name, choice.data),
        snippet: placeholderSnippet(name, key.message_type),
      }));
      kit.render(
        req,
        res,
        'template.njk',
        {
          title: t('template.title', { type: t(`type.${key.message_type}`), channel: t(`channel.${key.channel}`), lang: key.lang }),
          key,
          draft,
          parts: partsOf(key.channel),
          preview,
          refused: opts.refused ?? [],
          edited: opts.edited ?? false,
          placeholders,
          unknown: unknownPlaceholders(key.message_type, draft),
          unknownOnSave: opts.unknownOnSave ?? false,
          choice,
          filters: NOTICE_TEMPLATE_FILTERS,
          branches,
          langs,
        },
        { status: opts.status ?? 200 },
      );
    };

    router.get('/templates/edit', kit.requirePermission('templates'), async (req, res) => {
      const key = templateKeyFrom(req.query);
      if (!key) {
        kit.fail(req, res, 404, 'template.not_found');
        return;
      }
      const { draft, edited } = await loadTemplate(deps.templates, key);
      await show(req, res, key, draft, { edited });
    });

    /** The form posts here: "preview" shows the draft rendered; "save" stores it when it passes the check. */
    router.post('/templates/edit', kit.requirePermission('templates'), async (req, res) => {
      const staff = kit.staff(res);
      const body = formOf(req);
      const key = templateKeyFrom(body);
      if (!key) {
        kit.fail(req, res, 400, 'template.not_found');
        return;
      }
      const draft = draftFrom(body);
      if (body.action !== 'save') return show(req, res, key, draft, { body });
      if (!staff.permissions.has('templates_edit')) {
        deps.logger.info('web.forbidden', { staff: staff.account.borrowernumber, permission: 'templates_edit', path: req.path });
        kit.fail(req, res, 403, 'error.forbidden');
        return;
      }
      const problems = checkDraft(key, draft);
      if (problems.length) {
        deps.logger.info('web.templates.refused', {
          staff: staff.account.borrowernumber,
          type: key.message_type,
          channel: key.channel,
          lang: key.lang,
          part: problems[0].part,
          line: problems[0].line,
        });
        return show(req, res, key, draft, {
          status: 400,
          refused: problems,
          preview: { subject: '', text: '', html: null, sms: null, problems },
          body,
        });
      }
      // A placeholder the notice does not have would print nothing: staff see which before it is stored, and may save even so.
      if (unknownPlaceholders(key.message_type, draft).length && body.confirm_unknown !== '1')
        return show(req, res, key, draft, { status: 400, body, unknownOnSave: true });
      await saveTemplate(deps.templates, key, draft, staff.account.borrowernumber);
      await kit.audit.record({
        borrowernumber: staff.account.borrowernumber,
        action: 'template.save',
        objectType: 'template',
        objectId: `${key.message_type}/${key.channel}/${key.lang}/${key.branchcode}`,
        detail: { ...key },
        ip: kit.ip(req),
      });
      deps.logger.info('web.templates.saved', {
        staff: staff.account.borrowernumber,
        type: key.message_type,
        channel: key.channel,
        lang: key.lang,
        branch: key.branchcode,
      });
      const qs = new URLSearchParams({
        type: key.message_type,
        channel: key.channel,
        lang: key.lang,
        branch: key.branchcode,
        done: 'template.saved',
      });
      res.redirect(303, `/templates/edit?${qs.toString()}`);
    });

    /** Removes a staff edit, so the shipped text is used again. */
    router.post('/templates/reset', kit.requirePermission('templates_edit'), async (req, res) => {
      const staff = kit.staff(res);
      const key = templateKeyFrom(formOf(req));
      if (!key) {
        kit.fail(req, res, 400, 'template.not_found');
        return;
      }
      const removed = await deps.templates.remove(key);
      if (removed)
        await kit.audit.record({
          borrowernumber: staff.account.borrowernumber,
          action: 'template.reset',
          objectType: 'template',
          objectId: `${key.message_type}/${key.channel}/${key.lang}/${key.branchcode}`,
          detail: { ...key },
          ip: kit.ip(req),
        });
      const qs = new URLSearchParams({
        type: key.message_type,
        channel: key.channel,
        lang: key.lang,
        branch: key.branchcode,
        done: 'template.reset_done',
      });
      res.redirect(303, `/templates/edit?${qs.toString()}`);
    });

    /** The page's script posts the draft here as staff type; JSON back. */
    router.post('/templates/preview', kit.requirePermission('templates'), async (req, res) => {
      const body = formOf(req);
      const key = templateKeyFrom(body);
      if (!key) {
        res.status(400).json({ error: 'KMC_TEMPLATE_KEY', message: 'type, channel, lang or branch is not valid' });
        return;
      }
      const draft = draftFrom(body);
      const choice = await previewChoice(kit, key, body);
      const p = previewDraft(key, draft, choice.data);
      const t = kit.staff(res).t;
      const unknown = unknownPlaceholders(key.message_type, draft);
      res.json({
        unknown: unknown.length ? t('template.unknown', { names: unknown.join(', ') }) : null,
        patron: choice.patron ? t('template.preview_showing', { name: choice.patron.name }) : null,
        ok: p.problems.length === 0,
        subject: p.subject,
        text: p.text,
        html: p.html,
        sms: p.sms,
        smsText: p.sms
          ? t('template.sms_counter', {
              encoding: p.sms.encoding === 'gsm7' ? 'GSM-7' : 'UCS-2',
              parts: p.sms.parts,
              remaining: p.sms.remaining,
            })
          : null,
        problems: p.problems.map((x) => ({
          ...x,
          text: t('template.problem', { part: t(`template.part.${x.part}`), line: x.line ?? '?', reason: x.reason }),
        })),
      });
    });
  },
};
