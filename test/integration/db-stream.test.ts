import { expect } from 'chai';
import { createKnex, streamRows, type Knex } from '../../sidecar/db';
import { createScratchDatabase, type ScratchDatabase } from '../support/db';

/** Counts, for a knex pool, the times a connection was handed out while another caller still held it. */
function watchHandouts(knex: Knex): { sharedHandouts: number; held: () => number } {
  const client = knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> };
  const acquire = client.acquireConnection.bind(client);
  const release = client.releaseConnection.bind(client);
  const holders = new Map<unknown, number>();
  const seen = { sharedHandouts: 0, held: () => [...holders.values()].reduce((a, b) => a + b, 0) };
  client.acquireConnection = async () => {
    const conn = await acquire();
    if (holders.get(conn)) seen.sharedHandouts += 1;
    holders.set(conn, (holders.get(conn) ?? 0) + 1);
    return conn;
  };
  client.releaseConnection = (conn: unknown) => {
    holders.set(conn, Math.max(0, (holders.get(conn) ?? 0) - 1));
    return release(conn);
  };
  return seen;
}

describe('reading a large result row by row', () => {
  let db: ScratchDatabase;
  let knex: Knex;

  beforeEach(async () => {
    db = await createScratchDatabase('stream');
    await db.knex.raw('CREATE TABLE loans (id INT PRIMARY KEY, title VARCHAR(100))');
    const rows = Array.from({ length: 3000 }, (_, i) => ({ id: i + 1, title: `Titel ${i + 1}` }));
    for (let i = 0; i < rows.length; i += 500) await db.knex('loans').insert(rows.slice(i, i + 500));
    knex = createKnex(db.url, { poolMax: 3 });
  });

  afterEach(async () => {
    await knex.destroy();
    await db.drop();
  });

  it('never hands a connection to a second caller while the first still holds it, with the pool under contention', async () => {
    const seen = watchHandouts(knex);
    const readAll = async () => {
      let n = 0;
      for await (const row of streamRows<{ id: number }>(knex, knex('loans').orderBy('id').select('id'))) n += row.id > 0 ? 1 : 0;
      return n;
    };
    const smallQueries = async () => {
      for (let i = 0; i < 40; i += 1) await knex.raw('SELECT 1');
    };
    const counts = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? readAll() : smallQueries().then(() => -1))));
    expect(counts.filter((n) => n >= 0)).to.deep.equal([3000, 3000, 3000, 3000]);
    expect(seen.sharedHandouts).to.equal(0);
    expect(seen.held()).to.equal(0);
  });

  it('a reader that stops early gives its connection back, and the pool goes on answering', async () => {
    const seen = watchHandouts(knex);
    for (let round = 0; round < 5; round += 1) {
      let n = 0;
      for await (const _row of streamRows(knex, knex('loans').orderBy('id').select('id', 'title'))) {
        n += 1;
        if (n === 10) break;
      }
      expect(n).to.equal(10);
    }
    expect(seen.held()).to.equal(0);
    const [rows] = await knex.raw<[Array<{ n: number }>]>('SELECT COUNT(*) AS n FROM loans');
    expect(rows[0].n).to.equal(3000);
  });

  it('a query the database refuses is an error for the reader, and the connection is given back', async () => {
    const seen = watchHandouts(knex);
    let failure: unknown;
    try {
      for await (const _row of streamRows(knex, knex('no_such_table').select('*'))) expect.fail('no rows expected');
    } catch (err) {
      failure = err;
    }
    expect(String(failure)).to.match(/no_such_table/);
    expect(seen.held()).to.equal(0);
  });
});
