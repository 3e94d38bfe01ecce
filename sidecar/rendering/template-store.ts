/**
 * The staff-edited notice templates (kmc_templates): one row per type,
 * channel, language and branch ('' = every branch), winning over the
 * shipped file with the same key. This module owns that table's SQL.
 */
import type { Knex } from 'knex';
import type { ChannelName, MessageType } from '../kernel';
import { toDbTime } from '../db';

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

/** A template as the import of Koha's letters needs to know it: its texts, and whether it came from Koha and was edited since. */
export type TemplateImportState = Pick<
  EditedTemplate,
  'message_type' | 'channel' | 'lang' | 'branchcode' | 'subject' | 'body_text' | 'body_html'
> & {
  /** The Koha letters it was imported from; null when staff wrote it here. */
  koha_letters: string | null;
  /** Staff saved it here after it was imported. */
  edited_since_import: boolean;
};

/** What importing one template did: `kept` when staff wrote or edited it meanwhile (it is never overwritten). */
export type ImportWrite = 'created' | 'updated' | 'kept';

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

  /** A staff edit: also marks an imported template as edited here, so no later import overwrites it. */
  async save(key: TemplateKey, edit: TemplateEdit): Promise<void> {
    await this.knex('kmc_templates')
      .insert({ ...key, ...edit })
      .onConflict(['message_type', 'channel', 'lang', 'branchcode'])
      .merge({ ...edit, edited_since_import: 1 });
  }

  /** Every template with what the import of Koha's letters needs to decide. */
  async importStates(): Promise<TemplateImportState[]> {
    const rows: Array<Omit<TemplateImportState, 'edited_since_import'> & { edited_since_import: number }> = await this.knex(
      'kmc_templates',
    ).select('message_type', 'channel', 'lang', 'branchcode', 'subject', 'body_text', 'body_html', 'koha_letters', 'edited_since_import');
    return rows.map((r) => ({ ...r, edited_since_import: r.edited_since_import === 1 }));
  }

  /**
   * Writes a template imported from Koha's letters: a new one, or one an
   * earlier import wrote and staff have not edited since. A template staff
   * wrote or edited (also one they saved a moment ago) is left as it is.
   */
  async saveImported(
    key: TemplateKey,
    texts: { subject: string | null; body_text: string; body_html: string | null },
    kohaLetters: string,
    at: Date,
  ): Promise<ImportWrite> {
    const marks = {
      ...texts,
      koha_letters: kohaLetters.slice(0, 255),
      imported_at: toDbTime(at),
      edited_since_import: 0,
      updated_by: null,
    };
    const updated = await this.knex('kmc_templates')
      .where(key)
      .whereNotNull('koha_letters')
      .where({ edited_since_import: 0 })
      .update(marks);
    if (updated > 0) return 'updated';
    const [inserted] = await this.knex('kmc_templates')
      .insert({ ...key, ...marks })
      .onConflict(['message_type', 'channel', 'lang', 'branchcode'])
      .ignore();
    // MariaDB reports the new id, or 0 when a row was there (written by staff): that one stays.
    return typeof inserted === 'number' && inserted > 0 ? 'created' : 'kept';
  }

  /** Removes an edit, so the shipped text is used again; true when there was one. */
  async remove(key: TemplateKey): Promise<boolean> {
    return (await this.knex<EditedTemplate>('kmc_templates').where(key).delete()) > 0;
  }
}
