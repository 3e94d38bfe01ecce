import { expect } from 'chai';
import { NoticeRenderer } from '../../sidecar/rendering/notices';
import { shortenTitle } from '../../sidecar/rendering/sms-fit';
import { segmentInfo } from '../../sidecar/channels';

const LONG_TITLE =
  'The Remarkable and Entirely True History of the Lighthouse Keepers of the Northern Coast, with Maps and an Index of Ships';

function data(titles: string[], branch = 'Centralbiblioteket') {
  return {
    patron: { firstname: 'Åsa', surname: 'Öberg', cardnumber: 'C1' },
    branch: { name: branch, phone: '', email: 'central@example.org', address: '' },
    items: titles.map((title, i) => ({ title, author: '', barcode: `B${i}`, due: '10/11/2026' })),
    level: 1,
    fee: 0,
    fee_text: '',
    days_left: 3,
    message: '',
  };
}

describe('SMS notices name the one title, shortened to keep one SMS', () => {
  const r = new NoticeRenderer();
  const sms = (type: string, lang: string, titles: string[], branch?: string) =>
    r.render({ type, channel: 'sms', langs: [lang], branchcode: null, data: data(titles, branch) }).text.trim();

  for (const type of ['overdue', 'predue'])
    for (const lang of ['en', 'sv', 'da', 'de']) {
      it(`${type} in ${lang}: one item names its title whole when it fits`, () => {
        const text = sms(type, lang, ['Röda rummet']);
        expect(text).to.contain('"Röda rummet"');
        expect(segmentInfo(text).parts).to.equal(1);
      });

      it(`${type} in ${lang}: a long title is shortened so the SMS stays one GSM part`, () => {
        const text = sms(type, lang, [LONG_TITLE]);
        expect(segmentInfo(text)).to.include({ encoding: 'gsm7', parts: 1 });
        expect(text).to.match(/"The Remarkable and [^"]*\.\.\."/);
        expect(text).not.to.contain(LONG_TITLE);
      });

      it(`${type} in ${lang}: several items give the count, not a title`, () => {
        const text = sms(type, lang, ['Röda rummet', 'Hemsöborna', 'Gösta Berlings saga']);
        expect(text).to.contain('3 ').and.not.contain('Röda rummet');
      });
    }

  it('a title outside the GSM alphabet is shortened to one UCS-2 part (70 characters)', () => {
    const text = sms('overdue', 'en', ['Łódź i okolice: przewodnik dla wędrowców i rowerzystów'], 'Bibl');
    expect(segmentInfo(text)).to.include({ encoding: 'ucs2', parts: 1 });
    expect(text).to.contain('"Łódź');
  });

  it('keeps the whole title when even a short one cannot make the text fit', () => {
    const branch =
      'A branch with a name so long that no shortened title could keep this message inside one SMS part at all, not even with the shortest title anyone would still recognise';
    const text = sms('overdue', 'en', [LONG_TITLE], branch);
    expect(text).to.contain(LONG_TITLE);
  });

  it('shortenTitle cuts at a word break, never inside a character, and ends in "..."', () => {
    expect(shortenTitle('Röda rummet', 40)).to.equal('Röda rummet');
    expect(shortenTitle('The Remarkable and Entirely True History', 25)).to.equal('The Remarkable and...');
    expect(shortenTitle('😀😀😀😀😀😀😀😀😀😀', 6)).to.equal('😀😀😀...');
  });
});
