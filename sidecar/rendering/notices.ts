/**
 * Finds and renders the notice template for a type, channel and language.
 * Staff-edited templates (kmc_templates) win over the shipped defaults in
 * templates/notices/<lang>/<type>.<channel>.<part>.njk. Every source, shipped
 * or edited, goes through the same safety check before it renders.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TemplateError } from '../errors';
import type { ChannelName } from '../kernel';
import { escapeHtml } from './html';
import { emailDocument, styleTemplate } from './email-layout';
import { fitSmsToOnePart } from './sms-fit';
import { NoticeData, renderNoticeTemplate } from './safety';
import type { EditedTemplate, TemplateStore } from './template-store';

export const NOTICE_TEMPLATE_DIR = path.resolve(__dirname, '..', '..', 'templates', 'notices');
export const LIBRARY_DEFAULT_LANG = 'en';

export interface RenderedNotice {
  subject: string;
  text: string;
  html: string | null;
  lang: string;
}

interface TemplateSet {
  subject: string | null;
  text: string;
  html: string | null;
  /** The HTML with its bare tags styled once (undefined until first used; null when that changes nothing). */
  styledHtml?: string | null;
  name: string;
}

/** Koha's `lang` (e.g. sv-SE, default) to the codes we look templates up by, most exact first. */
export function languageCandidates(...langs: Array<string | null | undefined>): string[] {
  const out: string[] = [];
  for (const lang of [...langs, LIBRARY_DEFAULT_LANG]) {
    if (!lang || lang === 'default') continue;
    for (const code of [lang, lang.split(/[-_]/)[0]]) if (!out.includes(code)) out.push(code);
  }
  return out;
}

/** An HTML part for languages that ship only a text template: the text, escaped, paragraph by paragraph. */
export function htmlFromText(text: string): string {
  return text
    .split(/\n{2,}/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>\n')}</p>`)
    .join('\n');
}

export class NoticeRenderer {
  private fileCache = new Map<string, string | null>();
  private edited = new Map<string, EditedTemplate>();

  /** Without a template store only the shipped templates are used (tests of the shipped texts). */
  constructor(private readonly opts: { templates?: Pick<TemplateStore, 'all'>; templateDir?: string } = {}) {}

  /** Loads staff-edited templates once per run, so rendering needs no query per message. */
  async refresh(): Promise<void> {
    const rows = this.opts.templates ? await this.opts.templates.all() : [];
    // Swapped in at once, with the sets found from the old ones forgotten, so a render meanwhile never keeps a stale answer.
    this.edited.clear();
    this.sets.clear();
    for (const r of rows) this.edited.set(`${r.message_type}|${r.channel}|${r.lang}|${r.branchcode}`, r);
  }

  private file(lang: string, type: string, channel: string, part: string): string | null {
    const rel = path.join(lang, `${type}.${channel}.${part}.njk`);
    const cached = this.fileCache.get(rel);
    if (cached !== undefined) return cached;
    const full = path.join(this.opts.templateDir ?? NOTICE_TEMPLATE_DIR, rel);
    const text = existsSync(full) ? readFileSync(full, 'utf8') : null;
    this.fileCache.set(rel, text);
    return text;
  }

  /** Which set answers a type, channel, language and branch: found once per run, not once per message. */
  private sets = new Map<string, TemplateSet | null>();

  private findSet(type: string, channel: ChannelName, lang: string, branchcode: string | null): TemplateSet | null {
    const key = `${type}|${channel}|${lang}|${branchcode ?? ''}`;
    let set = this.sets.get(key);
    if (set === undefined) {
      set = this.lookUpSet(type, channel, lang, branchcode);
      this.sets.set(key, set);
    }
    return set;
  }

  private lookUpSet(type: string, channel: ChannelName, lang: string, branchcode: string | null): TemplateSet | null {
    for (const b of [branchcode ?? '', '']) {
      const row = this.edited.get(`${type}|${channel}|${lang}|${b}`);
      if (row)
        return {
          subject: row.subject,
          text: row.body_text,
          html: row.body_html,
          name: `${type}/${channel}/${lang}${b ? `/${b}` : ''} (edited)`,
        };
    }
    // A letter in a language with no letter template reads the e-mail text: same words, printed.
    for (const ch of channel === 'print' ? ['print', 'email'] : [channel]) {
      const text = this.file(lang, type, ch, 'text');
      if (text !== null) {
        return {
          subject: this.file(lang, type, ch, 'subject'),
          text,
          html: channel === 'email' ? this.file(lang, type, ch, 'html') : null,
          name: `${lang}/${type}.${ch}`,
        };
      }
    }
    return null;
  }

  render(args: {
    type: string;
    channel: ChannelName;
    langs: string[];
    branchcode: string | null;
    data: Record<string, unknown>;
  }): RenderedNotice {
    for (const lang of args.langs) {
      const set = this.findSet(args.type, args.channel, lang, args.branchcode);
      if (!set) continue;
      const rendered = this.renderSet(set, args.channel, lang, args.data);
      return args.channel === 'sms' ? fitSmsToOnePart(rendered, args.data, (data) => this.renderSet(set, 'sms', lang, data)) : rendered;
    }
    throw new TemplateError(`no template for ${args.type} by ${args.channel} in ${args.langs.join(', ')}`, {
      template: `${args.type}.${args.channel}`,
      reason: 'missing',
    });
  }

  private renderSet(set: TemplateSet, channel: ChannelName, lang: string, given: Record<string, unknown>): RenderedNotice {
    // One plain copy for every part; a failure names the part that would have read it first.
    const data = NoticeData.from(given, `${set.name}.${set.subject ? 'subject' : 'text'}`);
    const subject = set.subject
      ? renderNoticeTemplate(set.subject, data, { name: `${set.name}.subject`, autoescape: false })
          .replace(/\s+/g, ' ')
          .trim()
      : '';
    const text =
      renderNoticeTemplate(set.text, data, { name: `${set.name}.text`, autoescape: false })
        .replace(/\n{3,}/g, '\n\n')
        .trim() + '\n';
    let html: string | null = null;
    if (channel === 'email') {
      const body = set.html ? this.renderHtml(set, set.html, data) : htmlFromText(text);
      html = emailDocument(body, { lang, title: subject });
    }
    return { subject, text, html, lang };
  }

  /** The HTML body, from the styled template when there is one: emailDocument then finds nothing left to style. */
  private renderHtml(set: TemplateSet, html: string, data: NoticeData): string {
    const opts = { name: `${set.name}.html`, autoescape: true };
    if (set.styledHtml === undefined) set.styledHtml = styleTemplate(html);
    if (set.styledHtml === null) return renderNoticeTemplate(html, data, opts);
    try {
      return renderNoticeTemplate(set.styledHtml, data, opts);
    } catch {
      // Refusals, failures and the render budget then speak of the template as staff wrote it.
      return renderNoticeTemplate(html, data, opts);
    }
  }
}
