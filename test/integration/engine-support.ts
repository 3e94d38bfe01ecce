/**
 * Helpers for the notice-engine tests: a sidecar on a scratch Koha database
 * with a clock the test moves, and short ways to read what a run stored.
 */
import type { Knex } from 'knex';
import { createKohaDatabase, type KohaDatabase } from '../support/koha';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { KohaBuilder } from '../../sidecar/fixture';
import type { App } from '../../sidecar/main';

export interface EngineWorld {
  db: KohaDatabase;
  k: KohaBuilder;
  clock: TestClock;
  kmc: App & { logs: { lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> } };
  close(): Promise<void>;
}

/** A scratch Koha database with the sidecar's tables, a builder, and the sidecar on a test clock. */
export async function engineWorld(label: string, opts: { now?: string; env?: Record<string, string> } = {}): Promise<EngineWorld> {
  const db = await createKohaDatabase(label);
  await migrate(db.knex);
  const clock = new TestClock(new Date(opts.now ?? '2026-11-24T07:00:00Z'));
  const kmc = testServices(testSettings(db.url, opts.env ?? {}), clock);
  return {
    db,
    k: new KohaBuilder(db.knex),
    clock,
    kmc,
    async close() {
      await kmc.close();
      await db.drop();
    },
  };
}

export interface StoredMessage {
  id: number;
  message_type: string;
  level: number;
  borrowernumber: number;
  branchcode: string | null;
  channel: string;
  status: string;
  status_reason: string | null;
  to_address: string | null;
  from_address: string | null;
  subject: string;
  body_text: string;
  body_html: string | null;
  fee: string;
  lang: string;
  notice_date: string | null;
  render_data: string | null;
  rule_id: number | null;
  routine_id: number | null;
  items: Array<{ issue_id: number | null; reserve_id: number | null; coverage_key: string | null; fee: string }>;
}

/** Every stored message with what it covers, oldest first. */
export async function stored(knex: Knex, where: Record<string, unknown> = {}): Promise<StoredMessage[]> {
  const messages: StoredMessage[] = await knex('kmc_messages').where(where).orderBy('id');
  const items: Array<StoredMessage['items'][number] & { message_id: number }> = messages.length
    ? await knex('kmc_message_items')
        .whereIn(
          'message_id',
          messages.map((m) => m.id),
        )
        .orderBy('id')
    : [];
  for (const m of messages) {
    m.items = items
      .filter((i) => i.message_id === m.id)
      .map(({ issue_id, reserve_id, coverage_key, fee }) => ({ issue_id, reserve_id, coverage_key, fee }));
    m.notice_date = m.notice_date ? m.notice_date.slice(0, 10) : null;
  }
  return messages;
}

/** Starts from no messages (runs and rules stay). */
export async function clearMessages(knex: Knex): Promise<void> {
  await knex('kmc_messages').delete();
  await knex('kmc_runs').delete();
}

/** The sidecar's settings for SMS through a test SMSC (no enquire-link chatter, a fixed sender). */
export function smsEnv(smscUrl: string): Record<string, string> {
  return { KMC_SMPP_URL: smscUrl, KMC_SMPP_ENQUIRE_LINK_SECONDS: '0', KMC_SMS_SENDER: 'Bibliotek' };
}

/** The central library of the engine tests, with the patron category and item type they lend under. */
export async function centralLibrary(k: KohaBuilder): Promise<void> {
  await k.branch({
    code: 'CPL',
    name: 'Centralbiblioteket',
    email: 'central@bibliotek.example.org',
    address1: 'Storgatan 1',
    city: 'Stockholm',
  });
  await k.category({ code: 'PT', description: 'Vuxen' });
  await k.itemtype({ code: 'BK', description: 'Bok' });
}
