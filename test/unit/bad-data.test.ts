import { expect } from 'chai';
import { cutToFit, CUT_MARKER } from '../../sidecar/queue';
import { cutLongValues, firstImpossibleDate, impossibleDate } from '../../sidecar/notices/records';

describe('values from Koha that do not fit', () => {
  it('cuts to a column counted in characters, with the marker, leaving short values alone', () => {
    expect(cutToFit('Röda rummet', { chars: 20 })).to.equal('Röda rummet');
    const cut = cutToFit('å'.repeat(300), { chars: 255 });
    expect(Array.from(cut)).to.have.length(255);
    expect(cut.endsWith(CUT_MARKER)).to.equal(true);
  });

  it('cuts to a column counted in bytes between characters, never inside one', () => {
    const emoji = '📚'.repeat(20_000); // four bytes each
    const cut = cutToFit(emoji, { bytes: 65_535 });
    expect(Buffer.byteLength(cut)).to.be.at.most(65_535);
    expect(cut.endsWith(CUT_MARKER)).to.equal(true);
    expect(Buffer.from(cut, 'utf8').toString('utf8')).to.equal(cut);
    expect(Array.from(cut.slice(0, -1)).every((c) => c === '📚')).to.equal(true);
  });

  it('cuts long names, titles and addresses of a record to what a notice shows', () => {
    const row = { borrowernumber: 1, surname: 'S'.repeat(1000), biblio_title: 'T'.repeat(600), city: 'Solna', email: 'a@example.org' };
    const cut = cutLongValues(row);
    expect(Array.from(cut.surname)).to.have.length(200);
    expect(Array.from(cut.biblio_title)).to.have.length(500);
    expect(cut.city).to.equal('Solna');
    expect(row.surname).to.have.length(1000);
    const plain = { borrowernumber: 2, surname: 'Öberg' };
    expect(cutLongValues(plain)).to.equal(plain);
  });
});

describe('impossible dates from Koha', () => {
  for (const d of [
    '0000-00-00',
    '0000-00-00 00:00:00',
    '1899-12-31 23:59:00',
    '2026-02-30',
    '2026-13-01',
    '2026-11-24 24:00:00',
    'tomorrow',
    '',
  ]) {
    it(`refuses ${JSON.stringify(d)}`, () => {
      expect(impossibleDate(d)).to.equal(true);
    });
  }
  for (const d of ['1900-01-01', '2024-02-29', '2026-11-24 23:59:00', '2026-11-24T10:00:00.000']) {
    it(`takes ${d}`, () => {
      expect(impossibleDate(d)).to.equal(false);
    });
  }
  it('names the first impossible one; an absent date is none unless required', () => {
    expect(firstImpossibleDate({ waitingdate: null, expirationdate: '0000-00-00' })).to.deep.equal({
      field: 'expirationdate',
      value: '0000-00-00',
    });
    expect(firstImpossibleDate({ waitingdate: null })).to.equal(null);
    expect(firstImpossibleDate({ date_due: null }, ['date_due'])).to.deep.equal({ field: 'date_due', value: '' });
  });
});
