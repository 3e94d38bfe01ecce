import { expect } from 'chai';
import { ITEM_COLUMNS, EVENT_COLUMNS, LARGEST_STATEMENT, MESSAGE_COLUMNS, statementSizes } from '../../sidecar/queue/insert';

describe('queue: the sizes of the bulk INSERTs', () => {
  it('takes every row once, in whole statements of the largest size and at most one of each smaller size', () => {
    for (let rows = 0; rows <= 600; rows += 1) {
      const sizes = statementSizes(rows);
      expect(sizes.reduce((a, b) => a + b, 0)).to.equal(rows);
      expect(sizes.every((s) => s >= 1 && s <= LARGEST_STATEMENT)).to.equal(true);
      const smaller = sizes.filter((s) => s < LARGEST_STATEMENT);
      expect(new Set(smaller).size).to.equal(smaller.length);
    }
  });

  it('prepares statements with a few thousand placeholders in all, whatever the batch sizes a connection sees', () => {
    // Each shape prepared stays with the connection, with a description of every placeholder it has.
    const shapes = new Set<number>();
    for (let rows = 1; rows <= 500; rows += 1) for (const size of statementSizes(rows)) shapes.add(size);
    const columns = MESSAGE_COLUMNS.length + ITEM_COLUMNS.length + EVENT_COLUMNS.length;
    const placeholders = [...shapes].reduce((sum, size) => sum + size * columns, 0);
    expect(placeholders).to.be.at.most(3000);
  });
});
