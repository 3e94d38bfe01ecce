/**
 * The staff-edited notice templates (kmc_templates): one row per type,
 * channel, language and branch ('' = every branch), winning over the
 * shipped file with the same key. This module owns that table's SQL.
 */
import type { Knex } from 'knex';
import type { ChannelName, MessageType } from '../kernel';

/** Which template: a notice type by a channel in a language, for one branch or ('' ) all. */
export interface TemplateKey {
  message_type: MessageType;
  channel: ChannelName;
  lang: string;
  branchcode: string;
}

/** A stored edit, as the table keeps it. */
export interface EditedTemplate {
  message_type: string;
  channel: string;
  lang: string;
  branchcode: string;
  subject: string | null;
  body_text: string;
  body_html: string | null;
  updated_by: number | null;
  updated_at: string;
}

/** The parts of an edit to store. */
export interface TemplateEdit {
  subject: string | null;
  body_text: string;
  body_html: string | null;
  updated_by: number | null;
}

export type EditedTemplateSummary = Pick<EditedTemplate, 'message_type' | 'channel' | 'lang' | 'branchcode' | 'updated_at'>;

export class TemplateStore {
  constructor(private readonly knex: Knex) {}

  /** Every edit, for the renderer to load once per run. */
  all(): Promise<EditedTemplate[]> {
    return this.knex<EditedTemplate>('kmc_templates').select();
  }

  /** The edits without their texts, for the templates list. */
  summaries(filter: { message_type?: string } = {}): Promise<EditedTemplateSummary[]> {
    const q = this.knex<EditedTemplate>('kmc_templates')
      .select('message_type', 'channel', 'lang', 'branchcode', 'updated_at')
      .orderBy(['message_type', 'channel', 'lang', 'branchcode']);
    if (filter.message_type) void q.where({ message_type: filter.message_type });
    return q;
  }

  async find(key: TemplateKey): Promise<EditedTemplate | null> {
    return (await this.knex<EditedTemplate>('kmc_templates').where(key).first()) ?? null;
  }

  async save(key: TemplateKey, edit: TemplateEdit): Promise<void> {
    await this.knex<EditedTemplate>('kmc_templates')
      .insert({ ...key, ...edit })
      .onConflict(['message_type', 'channel', 'lang', 'branchcode'])
      .merge(['subject', 'body_text', 'body_html', 'updated_by']);
  }

  /** Removes an edit, so the shipped text is used again; true when there was one. */
  async remove(key: TemplateKey): Promise<boolean> {
    return (await this.knex<EditedTemplate>('kmc_templates').where(key).delete()) > 0;
  }
}
