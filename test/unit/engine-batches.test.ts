import { expect } from 'chai';
import { idempotencyKey, runBatches } from '../../sidecar/notices/engine';
import type { NewMessage } from '../../sidecar/queue';

interface Row {
  borrowernumber: number;
  n: number;
}

async function* rowsOf(list: Row[], opts: { failAt?: number; onRead?: (i: number) => void } = {}): AsyncIterable<Row> {
  for (const [i, r] of list.entries()) {
    if (opts.failAt === i) throw new Error('the query broke');
    opts.onRead?.(i);
    await Promise.resolve();
    yield r;
  }
}

const fake = (n: number) => ({ idempotencyKey: `k${n}` }) as unknown as NewMessage;
const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

describe('engine: the batch pipeline', () => {
  // Patrons 1..7 with 1 to 3 rows each, ordered by patron as the queries return them.
  const rows: Row[] = [];
  for (let p = 1; p <= 7; p += 1) for (let i = 0; i < (p % 3) + 1; i += 1) rows.push({ borrowernumber: p, n: rows.length });

  it('hands over whole patrons in batches, in order, and writes every batch once, in order', async () => {
    const seen: number[][][] = [];
    const written: string[][] = [];
    await runBatches(
      rowsOf(rows),
      async (patrons) => {
        seen.push(patrons.map((g) => g.map((r) => r.borrowernumber)));
        await tick();
        return patrons.map((g) => fake(g[0].borrowernumber));
      },
      async (messages) => {
        await tick(3);
        written.push(messages.map((m) => m.idempotencyKey));
      },
      3,
    );
    expect(seen.map((b) => b.map((g) => g[0]))).to.deep.equal([[1, 2, 3], [4, 5, 6], [7]]);
    for (const batch of seen) for (const g of batch) expect(new Set(g).size).to.equal(1);
    expect(seen.flat(2)).to.have.length(rows.length);
    expect(written).to.deep.equal([['k1', 'k2', 'k3'], ['k4', 'k5', 'k6'], ['k7']]);
  });

  /** Runs `count` patrons of one row through the pipeline; how many rows were read and not yet decided, at most. */
  async function readAheadOf(count: number, ...sizes: [] | [number, number]): Promise<{ handled: number; maxAhead: number }> {
    let read = 0;
    let maxAhead = 0;
    let handled = 0;
    const many: Row[] = Array.from({ length: count }, (_, i) => ({ borrowernumber: i + 1, n: i }));
    await runBatches(
      rowsOf(many, { onRead: () => (read += 1) }),
      (patrons) => {
        // Read and not yet decided, this batch included.
        maxAhead = Math.max(maxAhead, read - handled);
        handled += patrons.length;
        return Promise.resolve([fake(handled)]);
      },
      async () => {
        await tick(5);
      },
      ...sizes,
    );
    return { handled, maxAhead };
  }

  it('reads ahead while a batch is written, but no further than the read-ahead allows', async () => {
    const { handled, maxAhead } = await readAheadOf(40, 2, 3);
    expect(handled).to.equal(40);
    // Three batches of two waiting, the one handed over, the current group and the row that closed it.
    expect(maxAhead)
      .to.be.greaterThan(2 * 2)
      .and.at.most(2 * 3 + 2 + 2 + 2);
  });

  it('holds at most a few hundred patrons in memory with its own batch sizes, however long the run', async () => {
    const { handled, maxAhead } = await readAheadOf(3000);
    expect(handled).to.equal(3000);
    // The batch of 200 patrons handed over, one read ahead, the current group and the row that closed it.
    expect(maxAhead)
      .to.be.greaterThan(200)
      .and.at.most(2 * 200 + 2);
  });

  it('a failed write stops the run with that error and reads no further', async () => {
    let read = 0;
    const many: Row[] = Array.from({ length: 100 }, (_, i) => ({ borrowernumber: i + 1, n: i }));
    const err = await runBatches(
      rowsOf(many, { onRead: () => (read += 1) }),
      (patrons) => Promise.resolve([fake(patrons[0][0].borrowernumber)]),
      async (messages) => {
        if (messages[0].idempotencyKey === 'k3') throw new Error('the database went away');
        await tick();
      },
      1,
      2,
    ).then(
      () => null,
      (e: unknown) => (e instanceof Error ? e.message : e),
    );
    expect(err).to.equal('the database went away');
    expect(read).to.be.lessThan(20);
  });

  it('a failed query stops the run with that error', async () => {
    const err = await runBatches(
      rowsOf(rows, { failAt: 5 }),
      (patrons) => Promise.resolve(patrons.map((g) => fake(g[0].borrowernumber))),
      () => Promise.resolve(),
      1,
    ).then(
      () => null,
      (e: unknown) => (e instanceof Error ? e.message : e),
    );
    expect(err).to.equal('the query broke');
  });

  it('prepares a batch as soon as it is read, while the one before is still being decided, and decides each with its own', async () => {
    const events: string[] = [];
    const decided: Array<{ first: number; prepared: number }> = [];
    await runBatches(
      rowsOf(rows),
      {
        prepare: async (patrons) => {
          const first = patrons[0][0].borrowernumber;
          events.push(`prepare ${first}`);
          await tick();
          return first;
        },
        decide: async (patrons, prepared) => {
          const first = patrons[0][0].borrowernumber;
          events.push(`decide ${first}`);
          await tick(10);
          events.push(`decided ${first}`);
          decided.push({ first, prepared });
          return [fake(first)];
        },
      },
      async () => {
        await tick(3);
      },
      3,
    );
    expect(decided).to.deep.equal([
      { first: 1, prepared: 1 },
      { first: 4, prepared: 4 },
      { first: 7, prepared: 7 },
    ]);
    // The second batch's reads start before the first batch is decided, not after.
    expect(events.indexOf('prepare 4')).to.be.lessThan(events.indexOf('decided 1'));
  });

  it('a failed preparation stops the run with that error, and one never decided is not left unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const err = await runBatches(
        rowsOf(rows),
        {
          prepare: (patrons) =>
            patrons[0][0].borrowernumber === 1 ? Promise.resolve(null) : Promise.reject(new Error('the history read broke')),
          decide: async (patrons) => {
            // The first batch takes long enough for the next one to be read and fail meanwhile.
            await tick(20);
            if (patrons[0][0].borrowernumber === 1) throw new Error('a template is broken');
            return [];
          },
        },
        () => Promise.resolve(),
        1,
      ).then(
        () => null,
        (e: unknown) => (e instanceof Error ? e.message : e),
      );
      expect(err).to.equal('a template is broken');
      await tick(10);
      expect(unhandled).to.deep.equal([]);
      const second = await runBatches(
        rowsOf(rows),
        { prepare: () => Promise.reject(new Error('the history read broke')), decide: () => Promise.resolve([]) },
        () => Promise.resolve(),
        1,
      ).then(
        () => null,
        (e: unknown) => (e instanceof Error ? e.message : e),
      );
      expect(second).to.equal('the history read broke');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a failed decision stops the run with that error', async () => {
    const err = await runBatches(
      rowsOf(rows),
      (patrons) => (patrons[0][0].borrowernumber === 2 ? Promise.reject(new Error('a template is broken')) : Promise.resolve([])),
      () => Promise.resolve(),
      1,
    ).then(
      () => null,
      (e: unknown) => (e instanceof Error ? e.message : e),
    );
    expect(err).to.equal('a template is broken');
  });
});

describe('engine: idempotency keys', () => {
  it('are the same whatever order the coverage comes in, and the same as every earlier version made them', () => {
    const coverage = ['overdue:2:issue:7:due:20261110T2359', 'overdue:2:issue:12:due:20261101T2359'];
    // A changed key would let a run send again what an earlier version already sent.
    expect(idempotencyKey('overdue', 2, 42, coverage)).to.equal('overdue:2:42:43e1918dda028ad570cdf98d');
    expect(idempotencyKey('overdue', 2, 42, [...coverage].reverse())).to.equal('overdue:2:42:43e1918dda028ad570cdf98d');
    expect(coverage[0]).to.equal('overdue:2:issue:7:due:20261110T2359');
  });
});
