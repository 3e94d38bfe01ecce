import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NOTICE_TEMPLATE_DIR, NoticeRenderer } from '../../sidecar/rendering/notices';
import { renderNoticeTemplate } from '../../sidecar/rendering/safety';
import { emailDocument } from '../../sidecar/rendering/email-layout';

/**
 * The bare tags of an e-mail as they were first styled: by a pass over the
 * whole rendered body. Whatever the renderer does to be quicker,
 * the HTML that goes out must be byte for byte what this gives.
 */
const FONT = 'font-family: Arial, Helvetica, sans-serif; font-size: 15px; line-height: 1.5; color: #222222';
const REFERENCE_STYLES: Array<[RegExp, string]> = [
  [
    /<table>/g,
    '<table role="table" cellpadding="0" cellspacing="0" border="0" style="border-collapse: collapse; width: 100%; margin: 12px 0">',
  ],
  [
    /<th>/g,
    `<th align="left" style="${FONT}; font-weight: bold; text-align: left; padding: 6px 8px; border-bottom: 2px solid #cccccc; background: #f4f4f4">`,
  ],
  [/<td>/g, `<td valign="top" style="${FONT}; padding: 6px 8px; border-bottom: 1px solid #e2e2e2">`],
  [/<p>/g, `<p style="${FONT}; margin: 0 0 12px 0">`],
  [/<ul>/g, `<ul style="${FONT}; margin: 0 0 12px 0">`],
];

/** The frame around a body styled the old way (the frame's text itself is the same in both). */
function referenceDocument(body: string, lang: string, title: string): string {
  let styled = body.trim();
  for (const [tag, replacement] of REFERENCE_STYLES) styled = styled.replace(tag, replacement);
  const [top, bottom] = emailDocument('BODY', { lang, title }).split('BODY');
  return top + styled + bottom;
}

const item = (n: number) => ({
  title: `Röda rummet <${n}> & "mer"`,
  author: 'Strindberg, August',
  barcode: `B${n}`,
  due: '10/11/2026',
  pickup_by: '12/11/2026',
  price_text: '25.00',
});

const DATA = {
  patron: { firstname: 'Åsa', surname: "O'Berg <p>", cardnumber: 'C1' },
  branch: { name: 'Centralbiblioteket', phone: '+46 8 123', email: 'central@example.org', address: '' },
  items: [item(1), item(2)],
  level: 2,
  fee: 5,
  fee_text: '5.00 kr',
  total_text: '55.00 kr',
  message: 'Closed on <td> Monday\n\nOpen Tuesday',
  text: 'A word from the library <table>',
  link: 'https://example.org/verify?t=a&b=<p>',
  expires: '24/11/2026',
  pay_by: '01/12/2026',
  payment_term_days: 14,
  pickup_branch: 'Centralbiblioteket',
  last_pickup_day: '30/11/2026',
};

/** What the e-mail of a set of templates must be: the HTML template rendered, then framed the old way. */
function expectedHtml(dir: string, lang: string, type: string, data: Record<string, unknown>): string {
  const read = (part: string) => readFileSync(path.join(dir, lang, `${type}.email.${part}.njk`), 'utf8');
  const subject = renderNoticeTemplate(read('subject'), data, { name: 's', autoescape: false }).replace(/\s+/g, ' ').trim();
  return referenceDocument(renderNoticeTemplate(read('html'), data, { name: 'h', autoescape: true }), lang, subject);
}

describe('the e-mail frame', () => {
  it('is byte for byte the same for every shipped HTML template, language and message type', () => {
    const files = readdirSync(NOTICE_TEMPLATE_DIR, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.email.html.njk'));
    expect(files.length).to.be.at.least(32);
    const renderer = new NoticeRenderer();
    for (const f of files) {
      const [lang, name] = f.split(path.sep);
      const type = name.replace('.email.html.njk', '');
      for (const data of [DATA, { ...DATA, items: [item(1)], level: 1, fee: 0, message: '' }]) {
        const got = renderer.render({ type, channel: 'email', langs: [lang], branchcode: null, data });
        expect(got.html, f).to.equal(expectedHtml(NOTICE_TEMPLATE_DIR, lang, type, data));
      }
    }
  });

  describe('for templates staff write', () => {
    let dir: string;
    const write = (type: string, html: string) => {
      writeFileSync(path.join(dir, 'en', `${type}.email.html.njk`), html);
      writeFileSync(path.join(dir, 'en', `${type}.email.text.njk`), 'Text');
      writeFileSync(path.join(dir, 'en', `${type}.email.subject.njk`), 'About {{ patron.surname }}');
    };
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'kmc-email-layout-'));
      mkdirSync(path.join(dir, 'en'));
    });
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    const cases: Record<string, string> = {
      // A bare tag made from text on both sides of a value.
      split: "<{{ tag }}>Hello</{{ tag }}>\n<t{{ d }}>x</td><ul>{{ '<p>' }}<p>",
      raw: '{% raw %}<p>{{ "<td>" }}</p>{% endraw %}<table><tr><td>1</td></tr></table>',
      trimmed: '  {%- if fee -%}  <p>  {%- endif -%}  <th>{# <p> in a comment #}<td>\n',
      attributes: '<p class="x">kept</p><P>upper</P><p >spaced</p><table>\n<p>',
      plain: 'no tags at all, {{ patron.firstname }}',
    };
    for (const [type, html] of Object.entries(cases)) {
      it(`is the same for a template with ${type} tags`, () => {
        write(type, html);
        const data = { ...DATA, tag: 'p', d: 'd' };
        const got = new NoticeRenderer({ templateDir: dir }).render({ type, channel: 'email', langs: ['en'], branchcode: null, data });
        expect(got.html).to.equal(expectedHtml(dir, 'en', type, data));
      });
    }

    it('is the same when only the styled text would go over the render budget', () => {
      write('long', `{% for i in items %}${'<p>'.repeat(300)}{% endfor %}`);
      const data = { ...DATA, items: Array.from({ length: 2000 }, (_, n) => item(n)) };
      const got = new NoticeRenderer({ templateDir: dir }).render({
        type: 'long',
        channel: 'email',
        langs: ['en'],
        branchcode: null,
        data,
      });
      expect(got.html).to.equal(expectedHtml(dir, 'en', 'long', data));
    });

    it('names the line and column of the template as staff wrote it when it is refused', () => {
      write('broken', '<p><p><p><p>\n<p><table><td>{{ items | join(patron) }}</td></table>');
      const source = readFileSync(path.join(dir, 'en', 'broken.email.html.njk'), 'utf8');
      let expected = '';
      try {
        renderNoticeTemplate(source, DATA, { name: 'en/broken.email.html', autoescape: true });
      } catch (err) {
        expected = (err as Error).message;
      }
      expect(expected).to.contain('line 2, column 31');
      expect(() =>
        new NoticeRenderer({ templateDir: dir }).render({ type: 'broken', channel: 'email', langs: ['en'], branchcode: null, data: DATA }),
      ).to.throw(expected);
    });
  });
});
