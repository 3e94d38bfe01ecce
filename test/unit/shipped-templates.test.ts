import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkNoticeTemplate } from '../../sidecar/rendering/safety';
import { NOTICE_TEMPLATE_DIR, NoticeRenderer } from '../../sidecar/rendering/notices';

describe('the shipped notice templates', () => {
  const files = readdirSync(NOTICE_TEMPLATE_DIR, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.njk'));

  it('exist for English, Swedish, Danish and German', () => {
    for (const lang of ['en', 'sv', 'da', 'de']) expect(files).to.include(path.join(lang, 'overdue.email.text.njk'));
  });

  for (const f of files) {
    it(`${f} passes the same safety check as staff-edited templates`, () => {
      expect(() => {
        checkNoticeTemplate(readFileSync(path.join(NOTICE_TEMPLATE_DIR, f), 'utf8'), f);
      }).not.to.throw();
    });
  }

  it('render an overdue notice in the patron language, falling back to English', () => {
    const r = new NoticeRenderer();
    const data = {
      patron: { firstname: 'Åsa', surname: 'Öberg', cardnumber: 'C1' },
      branch: { name: 'Centralbiblioteket', phone: '', email: 'central@example.org', address: '' },
      items: [{ title: 'Röda rummet', author: 'Strindberg, August', barcode: 'B1', due: '2026-11-10' }],
      fee: 0,
      fee_text: '0.00',
      message: '',
    };
    const sv = r.render({ type: 'overdue', channel: 'email', langs: ['sv-SE', 'sv', 'en'], branchcode: null, data });
    expect(sv.lang).to.equal('sv');
    expect(sv.subject).to.equal('Försenade lån: 1 medium att lämna tillbaka till Centralbiblioteket');
    expect(sv.text).to.contain('Hej Åsa Öberg').and.contain('1. Röda rummet / Strindberg, August');
    expect(sv.html).to.contain('>Hej Åsa Öberg');
    // Swedish HTML has the items table too, with a row per item, and signs off.
    expect(sv.html)
      .to.match(/<th[^>]*>Titel<\/th>/)
      .and.match(/<td[^>]*>Röda rummet<\/td>/);
    expect(sv.html).to.contain('Med vänliga hälsningar');
    const fr = r.render({ type: 'overdue', channel: 'print', langs: ['fr-FR', 'fr', 'en'], branchcode: null, data });
    expect(fr.lang).to.equal('en');
    expect(fr.html).to.equal(null);
    expect(fr.text).to.contain('Dear Åsa Öberg');
    expect(() => r.render({ type: 'no_such_notice', channel: 'email', langs: ['en'], branchcode: null, data })).to.throw(
      /no template for no_such_notice by email/,
    );
  });
});
