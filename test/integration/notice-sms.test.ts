/**
 * Overdue SMS through the whole path: generated from Koha's
 * loans, delivered over SMPP to the capture SMS centre. One loan: the SMS
 * names its title, shortened so the SMS stays one part; several: the count.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { TestSmsc } from '../support/smsc';
import { runNotices } from '../../sidecar/notices';
import { centralLibrary, engineWorld, smsEnv, type EngineWorld } from './engine-support';

const RUN_DAY = '2026-11-24';
const LONG_TITLE = 'Berättelsen om fyrvaktarna längs den norra kusten, med kartor, fartygsregister och ett mycket långt förord';

describe(`overdue SMS name the one title, or count several (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;
  let smsc: TestSmsc;
  const who: Record<string, number> = {};

  before(async () => {
    smsc = await TestSmsc.start();
    w = await engineWorld('notice_sms', { now: `${RUN_DAY}T08:00:00Z`, env: smsEnv(smsc.url) });
    const { k } = w;
    await centralLibrary(k);
    await w.db.knex('kmc_rules').where({ is_baseline: 1 }).whereIn('message_type', ['overdue', 'predue']).update({ channels: 'sms' });
    const patron = (surname: string, mobile: string) =>
      k.patron({
        surname,
        firstname: 'Test',
        branchcode: 'CPL',
        categorycode: 'PT',
        lang: 'sv',
        email: null,
        mobile,
        smsalertnumber: mobile,
      });
    who.one = await patron('En', '070-111 11 11');
    who.many = await patron('Flera', '070-222 22 22');
    const lend = async (borrowernumber: number, title: string, dateDue: string) => {
      const b = await k.biblio({ title, author: 'Writer, A' });
      return k.loan({
        borrowernumber,
        itemnumber: await k.item({ biblionumber: b, homebranch: 'CPL', itype: 'BK' }),
        dateDue,
        branchcode: 'CPL',
      });
    };
    await lend(who.one, LONG_TITLE, '2026-11-01');
    await lend(who.many, 'Röda rummet', '2026-11-01');
    await lend(who.many, 'Hemsöborna', '2026-11-01');
    await w.kmc.startChannels();
  });

  after(async () => {
    await w.close();
    await smsc.close();
  });

  it('one overdue loan: the SMS names its title, shortened to one GSM part; two loans: it counts them', async () => {
    const result = await runNotices(w.kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    expect(result.byChannel).to.deep.equal({ sms: 2 });
    await w.kmc.worker.deliverOnce();
    const to = (mobile: string) => smsc.messages.find((m) => m.to.endsWith(mobile.replace(/\D/g, '').slice(1)));
    const one = to('070-111 11 11');
    expect(one, 'the SMS about one loan').to.exist;
    expect(one!.text).to.match(/"Berättelsen om fyrvaktarna[^"]*\.\.\." är försenad/);
    expect(one!.parts).to.have.length(1);
    expect(one!.dataCoding).to.equal(0);
    const many = to('070-222 22 22');
    expect(many!.text).to.contain('2 lån är försenade').and.not.contain('Röda rummet');
  });
});
