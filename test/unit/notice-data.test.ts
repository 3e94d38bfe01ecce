import { expect } from 'chai';
import { TemplateError } from '../../sidecar/errors';
import { NoticeData, renderNoticeTemplate } from '../../sidecar/rendering/safety';
import { NoticeRenderer } from '../../sidecar/rendering/notices';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

describe('notice data made plain once for every part', () => {
  const data = { patron: { firstname: 'Åsa', surname: 'Öberg' }, items: [{ title: 'Röda rummet' }, { title: 'Hemsöborna' }] };

  it('renders each part as the data itself would', () => {
    const shared = NoticeData.from(data, 'test.subject');
    for (const [source, autoescape] of [
      ['Hej {{ patron.firstname }} {{ patron.surname }}', false],
      ['{% for i in items %}{{ loop.index }}. {{ i.title }};{% endfor %}', false],
      ['<p>{{ patron.surname }} & {{ items | length }}</p>', true],
    ] as const) {
      const opts = { name: 'test', autoescape };
      expect(renderNoticeTemplate(source, shared, opts)).to.equal(renderNoticeTemplate(source, data, opts));
    }
  });

  it('is a copy: what the caller changes afterwards is not what the parts render', () => {
    const own = { patron: { firstname: 'Åsa' }, items: [{ title: 'Röda rummet' }] };
    const shared = NoticeData.from(own, 'test.text');
    own.patron.firstname = 'Changed';
    own.items.push({ title: 'Added' });
    expect(renderNoticeTemplate('{{ patron.firstname }} {{ items | length }}', shared, { name: 'a', autoescape: false })).to.equal('Åsa 1');
  });

  it('data that cannot be used fails with the name given', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let error: unknown;
    try {
      NoticeData.from(cyclic, 'sv/overdue.email.subject');
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TemplateError);
    expect((error as TemplateError).message)
      .to.contain('sv/overdue.email.subject')
      .and.contain('cycle');
  });

  it('the renderer names the first part when the data cannot be used, as before', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-notice-data-'));
    try {
      mkdirSync(path.join(dir, 'en'));
      writeFileSync(path.join(dir, 'en', 'overdue.print.text.njk'), 'Dear {{ patron.firstname }}');
      const renderer = new NoticeRenderer({ templateDir: dir });
      const ok = renderer.render({ type: 'overdue', channel: 'print', langs: ['en'], branchcode: null, data });
      expect(ok).to.include({ subject: '', text: 'Dear Åsa\n', html: null, lang: 'en' });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      let error: unknown;
      try {
        renderer.render({ type: 'overdue', channel: 'print', langs: ['en'], branchcode: null, data: cyclic });
      } catch (err) {
        error = err;
      }
      expect((error as TemplateError).details.template).to.equal('en/overdue.print.text');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
