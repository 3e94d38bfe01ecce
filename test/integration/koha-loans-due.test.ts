/**
 * The loans a notice run reads: Koha keeps no index on issues.date_due, so
 * the reader first asks issues alone whether any loan is due in the range,
 * and sends the joined candidates' query (patron, item, title, sorted by
 * patron) only when one is. A run dated before every due date reads no
 * patron; a run with loans due reads exactly the loans in the range.
 */
import { expect } from 'chai';
import { createKnex, migrate, type Knex } from '../../sidecar/db';
import { seedLibrary } from '../../sidecar/fixture';
import { createHostReader, type HostReader } from '../../sidecar/host';
import { createKohaDatabase, type KohaDatabase } from '../support/koha';

/** The SQL of every statement sent on the pool's connections, streaming ones included. */
function recordStatements(knex: Knex): string[] {
  const sent: string[] = [];
  const client = knex.client as { acquireConnection(): Promise<{ query: (sql: string, ...rest: unknown[]) => unknown }> };
  const acquire = client.acquireConnection.bind(client);
  const wrapped = new WeakSet();
  client.acquireConnection = async () => {
    const conn = await acquire();
    if (!wrapped.has(conn)) {
      wrapped.add(conn);
      const query = conn.query.bind(conn);
      conn.query = (sql: string | { sql: string }, ...rest: unknown[]) => {
        sent.push(typeof sql === 'string' ? sql : sql.sql);
        return query(sql as string, ...rest);
      };
    }
    return conn;
  };
  return sent;
}

describe('the loans a notice run reads from Koha', function () {
  this.timeout(120_000);
  let db: KohaDatabase;
  let knex: Knex;
  let host: HostReader;
  let sent: string[];

  before(async () => {
    db = await createKohaDatabase('loansdue');
    await migrate(db.knex);
    await seedLibrary(db.knex, { today: '2026-11-24', patrons: 20, biblios: 40, itemsPerBiblio: 1, loans: 30, holds: 0, returnedLoans: 0 });
    // One loan due long before the others, and last in the table: the first look must find it at the end.
    const [{ last }] = await db.knex('issues').max<Array<{ last: number }>>({ last: 'issue_id' });
    await db.knex('issues').where({ issue_id: last }).update({ date_due: '1990-01-01 23:59:00' });
  });

  beforeEach(() => {
    knex = createKnex(db.url, { poolMax: 2 });
    host = createHostReader(knex, { seen: { has: () => Promise.resolve(false) }, withoutPlugin: true, now: () => new Date() });
    sent = recordStatements(knex);
  });

  afterEach(async () => {
    await knex.destroy();
  });

  after(async () => {
    await db.drop();
  });

  async function read(range: { dueBefore: string; dueFrom?: string }): Promise<number[]> {
    const ids: number[] = [];
    for await (const loan of host.streamLoans(range)) ids.push(loan.issue_id);
    return ids;
  }

  async function issueIds(range: { dueBefore: string; dueFrom?: string }): Promise<number[]> {
    const q = db.knex('issues').where('date_due', '<', range.dueBefore).orderBy('issue_id').pluck('issue_id');
    if (range.dueFrom) q.where('date_due', '>=', range.dueFrom);
    return (await q) as number[];
  }

  it('with no loan due in the range, reads issues alone and never the patrons', async () => {
    expect(await read({ dueBefore: '1980-01-01 00:00:00' })).to.deep.equal([]);
    expect(await read({ dueFrom: '1991-01-01 00:00:00', dueBefore: '1991-02-01 00:00:00' })).to.deep.equal([]);
    expect(sent).to.have.length(2);
    for (const sql of sent) {
      expect(sql).to.match(/\bfrom `issues`/i);
      expect(sql).not.to.match(/\bjoin\b|borrowers/i);
    }
  });

  it('with loans due, reads every loan in the range with its patron, as before', async () => {
    const one = await read({ dueBefore: '1991-01-01 00:00:00' });
    expect(one).to.have.length(1);
    expect(one).to.deep.equal(await issueIds({ dueBefore: '1991-01-01 00:00:00' }));
    const overdue = await read({ dueBefore: '2026-11-24 00:00:00' });
    expect(overdue.length).to.be.greaterThan(1);
    expect([...overdue].sort((a, b) => a - b)).to.deep.equal(await issueIds({ dueBefore: '2026-11-24 00:00:00' }));
    const ahead = { dueFrom: '2026-11-24 00:00:00', dueBefore: '2027-01-01 00:00:00' };
    const predue = await read(ahead);
    expect([...predue].sort((a, b) => a - b)).to.deep.equal(await issueIds(ahead));
    expect(sent.filter((sql) => /borrowers/.test(sql))).to.have.length(3);
  });
});
