import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { migrate } from '../../sidecar/db';
import { seedLibrary } from '../../sidecar/fixture';
import { runNotices, type RunStats } from '../../sidecar/notices';
import type { App } from '../../sidecar/main';
import type { NewMessage } from '../../sidecar/queue';
import { toDbTime } from '../../sidecar/db';

const TODAY = '2026-11-24';
const ROUNDS = 6;

/**
 * Two sidecars generating the same overdue notices at the same moment write
 * the same loans in crossing transactions; InnoDB then picks deadlock
 * victims. Neither run may fail, and every loan ends up covered once.
 */
describe(`two sidecars generating at once (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(120_000);
  let db: KohaDatabase;
  let a: App;
  let b: App;
  let expected: { created: number; loans: number[] };

  before(async () => {
    db = await createKohaDatabase('concurrent');
    await migrate(db.knex);
    // Enough patrons for several batches of 500 per run, so the two runs' write transactions interleave.
    await seedLibrary(db.knex, {
      today: TODAY,
      seed: 7,
      patrons: 1600,
      biblios: 2000,
      itemsPerBiblio: 2,
      loans: 3000,
      overdueShare: 0.6,
      holds: 10,
      returnedLoans: 0,
    });
    const clock = new TestClock(new Date(`${TODAY}T05:00:00Z`));
    a = testServices(testSettings(db.url), clock);
    b = testServices(testSettings(db.url), clock);
    // One run alone says what a round must end with.
    const alone = await runNotices(a.notices, { type: 'overdue', date: TODAY, startedBy: 'alone' });
    expected = { created: alone.created, loans: await coveredLoans() };
    expect(expected.created).to.be.greaterThan(1000);
  });

  after(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });

  function newMessage(key: string, issueId: number): NewMessage {
    return {
      idempotencyKey: key,
      messageType: 'overdue',
      level: 1,
      borrowernumber: 1,
      branchcode: null,
      channel: 'print',
      status: 'pending',
      to: 'Patron\nStorgatan 1',
      from: 'Library',
      lang: 'en',
      subject: 'Overdue',
      text: 'Please bring it back.\n',
      html: null,
      fee: 0,
      runId: null,
      ruleId: null,
      items: [{ coverageKey: `test:1:issue:${issueId}`, issueId }],
    };
  }

  /** A message row written directly, as another sidecar's transaction would. */
  function rawRow(key: string): Record<string, unknown> {
    const now = toDbTime(new Date());
    return {
      idempotency_key: key,
      message_type: 'overdue',
      level: 1,
      borrowernumber: 1,
      channel: 'print',
      status: 'pending',
      created_at: now,
      updated_at: now,
    };
  }

  /** Until the store's INSERT is running on the server (and, with the row it needs locked, waiting). */
  async function storeIsWaiting(): Promise<void> {
    for (let i = 0; i < 200; i += 1) {
      const rows: Array<{ n: number | string }> = await db
        .knex('information_schema.processlist')
        .where('db', db.name)
        .where('info', 'like', 'INSERT INTO kmc_messages (%')
        .count({ n: '*' });
      if (Number(rows[0].n) > 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the store never started its INSERT');
  }

  it('a batch chosen as a deadlock victim is written again, and nothing is lost or doubled', async () => {
    await db.knex('kmc_messages').delete();
    const [k1, k2] = ['test:deadlock:1', 'test:deadlock:2'];
    // The other side: many rows written (so InnoDB picks the store as the cheaper victim), then K2.
    const other = await db.knex.transaction();
    try {
      for (let i = 0; i < 40; i += 1) await other('kmc_messages').insert(rawRow(`test:other:${i}`));
      await other('kmc_messages').insert(rawRow(k2));
      // The store writes K1, then waits for K2 ...
      const storing = a.store.insertMessages([newMessage(k1, 900001), newMessage(k2, 900002)], new Date(), 'test');
      await storeIsWaiting();
      // ... and the other side now wants K1: a deadlock, and the store's batch is rolled back.
      await other('kmc_messages').insert(rawRow(k1));
      await other.rollback();
      const result = await storing;
      expect(result.created).to.equal(2);
      expect(result.duplicates).to.equal(0);
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }
    const rows: Array<{ idempotency_key: string; n: number | string }> = await db
      .knex('kmc_messages as m')
      .join('kmc_message_items as i', 'i.message_id', 'm.id')
      .groupBy('m.idempotency_key')
      .orderBy('m.idempotency_key')
      .select('m.idempotency_key')
      .count({ n: '*' });
    expect(rows.map((r) => [r.idempotency_key, Number(r.n)])).to.deep.equal([
      [k1, 1],
      [k2, 1],
    ]);
    const [{ n: events }] = await db.knex('kmc_message_events').count({ n: '*' });
    expect(Number(events)).to.equal(2);
  });

  async function coveredLoans(): Promise<number[]> {
    const rows: Array<{ issue_id: number }> = await db
      .knex('kmc_message_items')
      .where('coverage_key', 'like', 'overdue:%')
      .orderBy('issue_id')
      .select('issue_id');
    return rows.map((r) => r.issue_id);
  }

  it(`neither run fails and every loan is covered exactly once (${ROUNDS} rounds)`, async () => {
    for (let round = 1; round <= ROUNDS; round += 1) {
      await db.knex('kmc_messages').delete();
      await db.knex('kmc_runs').delete();
      // The second starts a little later each round, so the two meet at different points of their runs.
      const settled = await Promise.allSettled([
        runNotices(a.notices, { type: 'overdue', date: TODAY, startedBy: `a${round}` }),
        new Promise((r) => setTimeout(r, (round - 1) * 15)).then(() =>
          runNotices(b.notices, { type: 'overdue', date: TODAY, startedBy: `b${round}` }),
        ),
      ]);
      const failures = settled
        .filter((s): s is PromiseRejectedResult => s.status === 'rejected')
        .map((s) => `${(s.reason as { code?: string }).code}: ${(s.reason as Error).message}`);
      expect(failures, `round ${round}`).to.deep.equal([]);
      const [ra, rb] = settled.map((s) => (s as PromiseFulfilledResult<RunStats>).value);

      // Each loan once: the list of covered loans has no repeats and is exactly what one run alone covers.
      const loans = await coveredLoans();
      expect(loans, `round ${round}`).to.deep.equal(expected.loans);
      // Every message stored was counted by exactly one of the runs; the other saw it as a duplicate.
      const stored = Number(((await db.knex('kmc_messages').count({ n: '*' }).first()) as { n: number | string }).n);
      expect(stored, `round ${round}`).to.equal(expected.created);
      expect(ra.created + rb.created, `round ${round}`).to.equal(expected.created);
      const runs: Array<{ status: string }> = await db.knex('kmc_runs').select('status');
      expect(
        runs.map((r) => r.status),
        `round ${round}`,
      ).to.deep.equal(['finished', 'finished']);
    }
  });
});
