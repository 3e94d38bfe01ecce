/**
 * The message table grows without end, so the staff pages and the nightly
 * anonymiser must find their rows through an index, never by reading the
 * whole table. This test fills kmc_messages with 500,000 messages (about
 * 1,000 days of a busy library), drives the real pages and the real nightly
 * job against it, captures every SQL statement they send, and EXPLAINs each
 * one that reads or changes kmc_messages. The captured queries are the ones
 * the code sends today, so the test stays true while the code moves.
 */
import { expect } from 'chai';
import type { Knex } from 'knex';
import { kohaSchemaKind } from '../support/koha';
import { toDbTime } from '../../sidecar/db';
import { anonymiseForFire } from '../../sidecar/archive';
import { startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

const MESSAGES = 500_000;
const DAYS = 1_000;
/** One run a day, of about 500 messages; every 50th message was sent by hand (no run). */
const RUNS = DAYS;
/** The last runs' messages get one item each (the items view of a run joins them). */
const ITEM_RUNS = 100;
/** A scan that reads more than this share of the table is a full scan, whatever the plan calls it. */
const FULL_SHARE = 0.5;

interface Captured {
  sql: string;
  bindings: readonly unknown[];
}

interface ExplainRow {
  id: number | null;
  select_type: string;
  table: string | null;
  type: string | null;
  possible_keys: string | null;
  key: string | null;
  rows: number | string | null;
  /** Only under ANALYZE: the rows really read (per loop). */
  r_rows?: number | string | null;
  Extra: string | null;
}

interface Explained {
  sql: string;
  bindings: unknown;
  /** The plan's rows for kmc_messages (under any alias the query gave it). */
  messages: ExplainRow[];
}

/** The names a statement gives kmc_messages: the table itself and its aliases. */
function messageAliases(sql: string): Set<string> {
  const names = new Set<string>(['kmc_messages']);
  for (const m of sql.matchAll(/`kmc_messages`\s+(?:as\s+)?`(\w+)`/gi)) names.add(m[1]);
  return names;
}

/** Fills kmc_messages (with the runs, and items for the last runs' messages) quickly, from a sequence of numbers. */
async function fillMessages(knex: Knex, now: Date): Promise<void> {
  const engines: Array<{ Engine: string; Support: string }> = (await knex.raw('SHOW ENGINES'))[0];
  const hasSequence = engines.some((e) => e.Engine === 'SEQUENCE' && e.Support !== 'NO');
  let numbers = `seq_1_to_${MESSAGES}`;
  if (!hasSequence) {
    // Without MariaDB's SEQUENCE engine: a numbers table, doubled until big enough.
    await knex.raw('CREATE TABLE load_numbers (seq INT NOT NULL PRIMARY KEY) ENGINE=InnoDB');
    await knex.raw('INSERT INTO load_numbers VALUES (1)');
    for (let n = 1; n < MESSAGES; n *= 2)
      await knex.raw(`INSERT INTO load_numbers SELECT seq + ${n} FROM load_numbers WHERE seq + ${n} <= ${MESSAGES}`);
    numbers = 'load_numbers';
  }
  const start = toDbTime(new Date(now.getTime() - DAYS * 86_400_000));
  const step = (DAYS * 86_400) / MESSAGES; // seconds between two messages
  // Messages older than the retention period (365 days) and one more night were anonymised already.
  const anonymisedBefore = toDbTime(new Date(now.getTime() - 366 * 86_400_000));
  const perRun = MESSAGES / RUNS;
  await knex.raw(
    `INSERT INTO kmc_runs (id, job, fire_time, run_date, message_type, status, started_at, finished_at, started_by)
     SELECT seq, 'overdue', DATE_ADD(?, INTERVAL (seq - 1) DAY), DATE(DATE_ADD(?, INTERVAL (seq - 1) DAY)), 'overdue', 'finished',
            DATE_ADD(?, INTERVAL (seq - 1) DAY), DATE_ADD(?, INTERVAL (seq - 1) DAY), 'scheduler'
     FROM ${numbers} WHERE seq <= ${RUNS}`,
    [start, start, start, start],
  );
  const batch = 100_000;
  for (let from = 1; from <= MESSAGES; from += batch) {
    const to = Math.min(MESSAGES, from + batch - 1);
    await knex.raw(
      `INSERT INTO kmc_messages (id, idempotency_key, message_type, level, borrowernumber, branchcode, channel, status, status_reason,
         to_address, subject, body_text, run_id, created_at, first_sent_at, updated_at, anonymised_at)
       SELECT l.seq, CONCAT('load:', l.seq),
         ELT(1 + l.seq % 5, 'overdue', 'overdue', 'predue', 'hold_waiting', 'hold_reminder'),
         IF(l.seq % 5 < 2, 1 + l.seq % 3, 0),
         1 + l.seq % 20000,
         IF(l.seq % 2, 'CPL', 'HAF'),
         ELT(1 + l.seq % 10, 'email', 'email', 'email', 'email', 'email', 'email', 'sms', 'sms', 'sms', 'print'),
         l.status,
         IF(l.status = 'failed', ELT(1 + l.seq % 3, '550 mailbox unavailable', 'SMSC: invalid destination', 'timeout'), NULL),
         IF(l.anonymised, NULL, CONCAT('patron', l.seq % 20000, '@example.org')),
         IF(l.anonymised, NULL, CONCAT('Your loans are overdue (', l.seq, ')')),
         IF(l.anonymised, NULL, REPEAT('The following items are overdue. ', 4)),
         IF(l.seq % 50 = 0, NULL, 1 + FLOOR((l.seq - 1) / ${perRun})),
         l.created_at, IF(l.status IN ('sent', 'delivered'), l.created_at, NULL), l.created_at,
         IF(l.anonymised, DATE_ADD(l.created_at, INTERVAL 366 DAY), NULL)
       FROM (
         SELECT t.seq, t.created_at, t.created_at < ? AS anonymised,
           CASE
             WHEN t.seq > ${MESSAGES - perRun} THEN 'proposed'
             WHEN t.seq % 100 < 3 THEN 'failed'
             WHEN t.seq % 100 = 3 THEN 'missing_contact'
             WHEN t.seq % 100 = 4 THEN 'cancelled'
             WHEN t.seq % 100 < 60 THEN 'delivered'
             ELSE 'sent'
           END AS status
         FROM (SELECT seq, DATE_ADD(?, INTERVAL FLOOR(seq * ${step}) SECOND) AS created_at FROM ${numbers} WHERE seq BETWEEN ? AND ?) t
       ) l`,
      [anonymisedBefore, start, from, to],
    );
  }
  await knex.raw(
    `INSERT INTO kmc_message_items (message_id, coverage_key, issue_id, itemnumber, biblionumber, barcode, title, date_due)
     SELECT m.id, CONCAT('load:', m.id), m.id, m.id, m.id, IF(m.anonymised_at IS NULL, CONCAT('B', m.id), NULL),
       IF(m.anonymised_at IS NULL, 'A title', NULL), m.created_at
     FROM kmc_messages m WHERE m.run_id > ${RUNS - ITEM_RUNS}`,
  );
  if (!hasSequence) await knex.raw('DROP TABLE load_numbers');
  // Fresh statistics, as a table that grew over years has.
  await knex.raw('ANALYZE TABLE kmc_messages, kmc_message_items, kmc_runs');
}

describe(`indexes of the message table at ${MESSAGES.toLocaleString('en')} messages (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(240_000);
  let sidecar: StaffSidecar;
  let staff: StaffSession;
  let knex: Knex;
  let tableRows = 0;
  let capturing = false;
  const captured: Captured[] = [];
  const lastRun = RUNS;

  before(async function () {
    const began = Date.now();
    sidecar = await startStaffSidecar('indexes', {
      chief: { userid: 'chief', surname: 'Chef', modules: ['superlibrarian'], branchcode: 'CPL', categorycode: 'PT' },
    });
    knex = sidecar.running.services.knex;
    await fillMessages(sidecar.db.knex, sidecar.clock.now());
    const counted = await sidecar.db.knex('kmc_messages').count({ n: '*' }).first();
    tableRows = Number(counted?.n);
    console.log(`      filled kmc_messages with ${tableRows} rows in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    staff = await StaffSession.launch(
      sidecar.running.server,
      sidecar.running.services.settings.secret,
      sidecar.n.chief,
      Math.floor(sidecar.clock.now().getTime() / 1000),
    );
    knex.on('query', (q: { sql?: string; bindings?: readonly unknown[] }) => {
      if (capturing && q.sql) captured.push({ sql: q.sql, bindings: q.bindings ?? [] });
    });
  });

  after(async () => {
    await sidecar.stop();
  });

  /** Runs `action`, keeping every statement it sent that reads or changes kmc_messages. */
  async function capture(action: () => Promise<void>): Promise<Captured[]> {
    captured.length = 0;
    capturing = true;
    try {
      await action();
    } finally {
      capturing = false;
    }
    return captured.filter((q) => /^\s*(select|update)\b/i.test(q.sql) && /`kmc_messages`/.test(q.sql));
  }

  /** EXPLAINs each statement (ANALYZE for a SELECT), prints its plan for kmc_messages, and refuses a full scan of it. */
  async function explainAll(label: string, queries: Captured[]): Promise<Explained[]> {
    expect(queries, `${label} sent statements that read kmc_messages`).to.not.be.empty;
    const out: Explained[] = [];
    const fullScans: string[] = [];
    for (const q of queries) {
      // A SELECT is also run under ANALYZE, which adds the rows it really read (r_rows): a plan that
      // walks the primary key "until LIMIT rows match" looks cheap in EXPLAIN and may read the whole table.
      const select = /^\s*select\b/i.test(q.sql);
      const [plan] = (await knex.raw(`${select ? 'ANALYZE' : 'EXPLAIN'} ${q.sql}`, q.bindings as Knex.RawBinding[])) as [ExplainRow[]];
      const names = messageAliases(q.sql);
      const messages = plan.filter((r) => r.table !== null && names.has(r.table));
      console.log(`      [${label}] ${q.sql.replace(/\s+/g, ' ').slice(0, 160)}`);
      for (const r of messages) {
        const read = r.r_rows === undefined || r.r_rows === null ? '' : ` r_rows=${r.r_rows}`;
        console.log(`        -> table=${r.table} type=${r.type} key=${r.key ?? '-'} rows=${r.rows}${read} extra=${r.Extra ?? ''}`);
        // A planned scan of the whole table is refused outright. A walk along an index ("index") is judged
        // by what it really read when ANALYZE tells (it may stop early at a LIMIT), by its plan otherwise.
        // r_rows alone is not enough: after a sort with LIMIT it counts only the rows kept.
        const big = (n: unknown) => Number(n ?? 0) >= tableRows * FULL_SHARE;
        const full = (r.type === 'ALL' && big(r.rows)) || big(r.r_rows) || (!select && r.type === 'index' && big(r.rows));
        if (full) fullScans.push(`type ${r.type}, ${r.rows} rows${read}: ${q.sql}`);
      }
      out.push({ sql: q.sql, bindings: q.bindings, messages });
    }
    // Every plan is printed first, so a failure shows them all.
    expect(fullScans, `${label}: full scans of kmc_messages`).to.deep.equal([]);
    return out;
  }

  /** The keys the plans use for kmc_messages in the statements that match `where`. */
  function keysWhere(plans: Explained[], where: RegExp): string[] {
    return plans.filter((p) => where.test(p.sql)).flatMap((p) => p.messages.map((r) => r.key ?? '(none)'));
  }

  it('the run page and the list of runs find a run’s messages by the run index', async () => {
    const queries = await capture(async () => {
      for (const path of [`/runs/${lastRun}`, `/runs/${lastRun}/items`, `/runs/${lastRun}/status`, '/runs', '/runs?waiting=1']) {
        const res = await staff.get(path);
        expect(res.status, `${path}: ${res.text.slice(0, 300)}`).to.equal(200);
      }
    });
    const plans = await explainAll('run page', queries);
    // The run's letters still to print are few at any size: the status index finds them as well as the run index.
    const toPrint = plans.filter((p) => /`run_id`\s*(=|in)/i.test(p.sql) && /to_print/.test(JSON.stringify(p.bindings)));
    const byRun = keysWhere(
      plans.filter((p) => !toPrint.includes(p)),
      /`run_id`\s*(=|in)/i,
    );
    expect(byRun, 'statements that select by run id').to.not.be.empty;
    for (const key of byRun) expect(key).to.equal('kmc_messages_run');
    for (const p of toPrint) for (const r of p.messages) expect(r.key).to.be.oneOf(['kmc_messages_run', 'kmc_messages_claim']);
  });

  it('the dashboard counts the last 30 days by the creation-time index', async () => {
    const queries = await capture(async () => {
      const res = await staff.get('/dashboard');
      expect(res.status, res.text.slice(0, 300)).to.equal(200);
    });
    const plans = await explainAll('dashboard', queries);
    // Counted by quarter hour of created_at, then by the library's day.
    const perDay = plans.filter((p) => /group by CONCAT\(DATE_FORMAT\(created_at/i.test(p.sql));
    expect(perDay, 'the per-day counts').to.have.length(1);
    expect(perDay[0].messages.map((r) => r.key)).to.deep.equal(['kmc_messages_created']);
  });

  it('the queue page reads failed and missing-contact messages without a full scan', async () => {
    const queries = await capture(async () => {
      for (const path of ['/queue', '/queue?status=failed&channel=sms']) {
        const res = await staff.get(path);
        expect(res.status, `${path}: ${res.text.slice(0, 300)}`).to.equal(200);
      }
    });
    await explainAll('queue page', queries);
  });

  it('the archive searches by patron and by dates without a full scan', async () => {
    const queries = await capture(async () => {
      for (const path of [
        '/archive?q=%C3%96berg',
        '/archive?from=2026-11-01&to=2026-11-20&channel=sms',
        '/archive?from=2026-11-20',
        '/archive?from=2025-06-01&to=2025-06-30&channel=sms',
      ]) {
        const res = await staff.get(path);
        expect(res.status, `${path}: ${res.text.slice(0, 300)}`).to.equal(200);
      }
    });
    const plans = await explainAll('archive', queries);
    const byDate = keysWhere(plans, /`created_at` >= \?/i);
    expect(byDate, 'searches by date').to.not.be.empty;
    for (const key of byDate) expect(key).to.equal('kmc_messages_created');
  });

  it('the nightly anonymiser finds the messages due by the anonymisation index', async () => {
    const services = sidecar.running.services;
    let anonymised = 0;
    const queries = await capture(async () => {
      const result = await anonymiseForFire(
        { store: services.store, runs: services.runs, clock: services.clock, logger: services.logger, settings: services.settings },
        services.clock.now(),
      );
      anonymised = result?.messages ?? 0;
    });
    // One night's worth of messages had come of age since the last run.
    expect(anonymised).to.be.within(300, 1000);
    const plans = await explainAll('anonymiser', queries);
    const due = plans.filter((p) => /`anonymised_at` is null/i.test(p.sql));
    expect(due, 'the search for messages due').to.not.be.empty;
    for (const p of due) expect(p.messages.map((r) => r.key)).to.deep.equal(['kmc_messages_anonymise']);
  });
});
