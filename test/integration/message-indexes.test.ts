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
import { fillMessages, MESSAGES, RUNS } from '../../bench/message-load';
import { measurePages, pagesToMeasure } from '../../bench/pages';
import { anonymiseForFire, anonymiseOldMessages } from '../../sidecar/archive';
import { startStaffSidecar, StaffSession, type StaffSidecar } from './web-support';

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
    for (const p of toPrint)
      for (const r of p.messages) expect(r.key).to.be.oneOf(['kmc_messages_run', 'kmc_messages_claim', 'kmc_messages_status_created']);
  });

  it('the dashboard counts the last 30 days from the counting index alone', async () => {
    const queries = await capture(async () => {
      const res = await staff.get('/dashboard');
      expect(res.status, res.text.slice(0, 300)).to.equal(200);
    });
    const plans = await explainAll('dashboard', queries);
    // Counted by quarter hour of created_at, then by the library's day.
    const perDay = plans.filter((p) => /group by CONCAT\(DATE_FORMAT\(created_at/i.test(p.sql));
    expect(perDay, 'the per-day counts').to.have.length(1);
    expect(perDay[0].messages.map((r) => r.key)).to.deep.equal(['kmc_messages_created_counts']);
    // Read from the index, without a row of the table.
    expect(perDay[0].messages[0].Extra).to.match(/Using index/);
  });

  /** The path of a page's "next" or "previous" link, when it has one. */
  function pagerLink(html: string, rel: 'next' | 'prev'): string | null {
    const m = new RegExp(`href="([^"]+)" rel="${rel}"`).exec(html);
    return m ? m[1].replace(/&amp;/g, '&') : null;
  }

  /** The message ids a list page shows (its links to the archive's message pages, or its tick boxes). */
  function shownIds(html: string): number[] {
    return [...new Set([...html.matchAll(/(?:href="\/archive\/|name="ids" value=")(\d+)"/g)].map((m) => Number(m[1])))];
  }

  /** Gets each path (and the next page of each, and the previous of that), keeping every statement they sent. */
  async function visit(paths: string[]): Promise<Captured[]> {
    return capture(async () => {
      for (const path of paths) {
        const res = await staff.get(path);
        expect(res.status, `${path}: ${res.text.slice(0, 300)}`).to.equal(200);
        const next = pagerLink(res.text, 'next');
        if (!next) continue;
        const second = await staff.get(next);
        expect(second.status, next).to.equal(200);
        const back = pagerLink(second.text, 'prev');
        expect(back, `${next} links back`).to.be.a('string');
        expect((await staff.get(back!)).status).to.equal(200);
      }
    });
  }

  /** A message id far down the list: a cursor as deep as page 4,000 of the archive. */
  const DEEP = 300_000;

  it('the queue page reads every filter, at any depth, without a full scan', async () => {
    const queries = await visit([
      '/queue',
      '/queue?status=failed',
      '/queue?status=missing_contact',
      '/queue?status=bounced',
      '/queue?channel=sms',
      '/queue?channel=print',
      '/queue?branch=HAF',
      '/queue?type=hold_waiting',
      '/queue?type=welcome',
      '/queue?status=failed&channel=sms',
      '/queue?status=failed&channel=email&branch=CPL&type=overdue',
      `/queue?before=${DEEP}&page=100`,
      `/queue?status=failed&before=${DEEP}&page=100`,
      `/queue?status=missing_contact&after=${DEEP}&page=100`,
      `/queue?channel=sms&type=predue&before=${DEEP}&page=100`,
    ]);
    await explainAll('queue page', queries);
  });

  it('the queue page goes on from the last message shown and back again, with a count that stops', async () => {
    const first = await staff.get('/queue');
    const firstIds = shownIds(first.text);
    expect(firstIds).to.have.length(100);
    expect(first.text).to.contain('More than 1000 messages to deal with.');
    const next = pagerLink(first.text, 'next')!;
    expect(next).to.match(new RegExp(`before=${firstIds[99]}`));
    const second = await staff.get(next);
    const secondIds = shownIds(second.text);
    expect(secondIds).to.have.length(100);
    // Newest first, with no message shown twice and none left out between the pages.
    const both = [...firstIds, ...secondIds];
    expect(both).to.deep.equal([...both].sort((x, y) => y - x));
    const between = await knex('kmc_messages as m')
      .leftJoin('kmc_queue_handled as h', 'h.message_id', 'm.id')
      .whereNull('h.message_id')
      .whereIn('m.status', ['failed', 'missing_contact', 'bounced'])
      .whereBetween('m.id', [secondIds[99], firstIds[0]])
      .count({ n: '*' });
    expect(Number(between[0].n)).to.equal(200);
    expect(second.text).to.contain('Page 2');
    const back = await staff.get(pagerLink(second.text, 'prev')!);
    expect(shownIds(back.text)).to.deep.equal(firstIds);
  });

  it('the archive reads every filter, at any depth, without a full scan', async () => {
    const paths: string[] = ['/archive', `/archive?before=${DEEP}&page=4000`, `/archive?after=${DEEP}&page=4000`];
    for (const status of ['delivered', 'failed', 'cancelled', 'proposed', 'bounced', 'printed'])
      paths.push(`/archive?status=${status}`, `/archive?status=${status}&before=${DEEP}&page=4000`);
    for (const type of ['overdue', 'hold_waiting', 'welcome'])
      paths.push(`/archive?type=${type}`, `/archive?type=${type}&before=${DEEP}&page=4000`);
    for (const channel of ['email', 'print'])
      paths.push(`/archive?channel=${channel}`, `/archive?channel=${channel}&before=${DEEP}&page=4000`);
    paths.push(
      '/archive?status=failed&channel=sms',
      `/archive?status=delivered&type=predue&channel=email&before=${DEEP}&page=4000`,
      '/archive?from=2024-01-01&to=2024-12-31&status=failed',
      `/archive?to=2025-06-30&before=${DEEP}&page=4000`,
      '/archive?q=Chef&status=sent',
    );
    const queries = await visit(paths);
    await explainAll('archive (every filter)', queries);
  });

  it('the archive goes on from the last message shown, in creation order, at any depth', async () => {
    const deep = await staff.get(`/archive?status=failed&before=${DEEP}&page=4000`);
    const ids = shownIds(deep.text);
    expect(ids).to.have.length(50);
    expect(ids.every((id) => id < DEEP)).to.equal(true);
    // The 50 failed messages made just before the cursor's message, newest first.
    const expected = await knex('kmc_messages')
      .where('status', 'failed')
      .where('id', '<', DEEP)
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(50)
      .pluck('id');
    expect(ids).to.deep.equal(expected.map(Number));
    expect(deep.text).to.contain('Page 4000').and.contain('More than 1000 messages found.');
    const back = await staff.get(pagerLink(deep.text, 'prev')!);
    const backIds = shownIds(back.text);
    expect(backIds).to.have.length(50);
    expect(Math.min(...backIds)).to.be.greaterThan(Math.max(...ids));
  });

  it('the patron tab finds a patron’s messages by the patron index', async () => {
    const queries = await capture(async () => {
      const res = await staff.get(`/patrons/${sidecar.n.chief}/messages`);
      expect(res.status, res.text.slice(0, 300)).to.equal(200);
    });
    const plans = await explainAll('patron tab', queries);
    const byPatron = keysWhere(plans, /`borrowernumber` = \?/i);
    expect(byPatron, 'the patron’s messages').to.not.be.empty;
    for (const key of byPatron) expect(key).to.equal('kmc_messages_patron');
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
    // By creation time alone, or by the filter's own index, which is by creation time within the filter.
    for (const key of byDate) expect(key).to.match(/^kmc_messages_(created_counts|channel_created|type_created|status_created)$/);
  });

  it('the page bench fetches every page whole and finds no full scan in any of them', async () => {
    const timings = await measurePages({
      knex,
      get: async (path) => (await staff.get(path)).status,
      pages: await pagesToMeasure(knex, sidecar.n.chief),
      repeats: 3,
    });
    for (const t of timings)
      console.log(`      ${t.page.padEnd(34)} ${String(t.ms).padStart(7)} ms  full scan: ${t.explainFullScan ? 'YES' : 'no'}`);
    expect(timings).to.have.length.at.least(14);
    expect(timings.filter((t) => t.explainFullScan).map((t) => t.page)).to.deep.equal([]);
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

  it('the anonymiser goes on from where its last batch ended, passing messages still on their way only once', async () => {
    const services = sidecar.running.services;
    // 20,000 of the oldest messages are still held (never sent): past the retention period, but not to be
    // anonymised. Then 2,000 messages made after them come due.
    await knex('kmc_messages').whereBetween('id', [1001, 21_000]).update({ status: 'held', anonymised_at: null });
    await knex('kmc_messages').whereBetween('id', [30_001, 32_000]).update({ status: 'sent', anonymised_at: null });
    const batchSize = 200;
    let result = { messages: 0 };
    const queries = await capture(async () => {
      result = await anonymiseOldMessages(
        { store: services.store, clock: services.clock, logger: services.logger },
        { retentionDays: services.settings.retentionDays, batchSize },
      );
    });
    expect(result.messages).to.equal(2000);
    expect(await knex('kmc_messages').whereBetween('id', [1001, 21_000]).whereNotNull('anonymised_at').count({ n: '*' })).to.deep.equal([
      { n: 0 },
    ]);
    const due = queries.filter((q) => /^\s*select\b/i.test(q.sql) && /`anonymised_at` is null/i.test(q.sql));
    expect(due.length, 'one search per batch').to.be.at.least(2000 / batchSize);
    // Every batch after the first starts after the last message the one before it looked at: read again now,
    // with the held messages still there, none of them reads the 20,000 held ones again.
    const read: number[] = [];
    for (const q of due.slice(1)) {
      const [plan] = (await knex.raw(`ANALYZE ${q.sql}`, q.bindings as Knex.RawBinding[])) as [ExplainRow[]];
      const own = plan.filter((r) => r.table === 'kmc_messages');
      expect(own.map((r) => r.key)).to.deep.equal(['kmc_messages_anonymise']);
      read.push(...own.map((r) => Number(r.r_rows ?? 0) * 1));
    }
    console.log(`      rows read by the later batches (read again afterwards): ${read.join(', ')}`);
    for (const n of read) expect(n).to.be.below(5000);
  });
});
