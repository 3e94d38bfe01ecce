/**
 * An SMS the phone never got: the real test SMSC sends a delivery receipt
 * saying UNDELIV, and the notice moves from `sent` to `bounced` (the history
 * keeping the receipt's words) and is replaced at once by the next channel
 * its rule allows, a letter, as a bounced e-mail is.
 */
import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { TestSmsc } from '../support/smsc';
import { migrate } from '../../sidecar/db';
import { runNotices } from '../../sidecar/notices';
import { until } from './delivery-support';

describe(`an SMS receipt saying undelivered bounces its notice (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let smsc: TestSmsc;
  let kmc: ReturnType<typeof testServices>;

  beforeEach(async () => {
    db = await createKohaDatabase('smsbounce');
    await migrate(db.knex);
    lib = await buildSmallLibrary(db.knex);
    await db.knex('borrowers').where({ borrowernumber: lib.patrons.asa }).update({ smsalertnumber: '+46701234567' });
    smsc = await TestSmsc.start();
    kmc = testServices(
      testSettings(db.url, { KMC_SMPP_URL: smsc.url, KMC_SMPP_ENQUIRE_LINK_SECONDS: '0', KMC_SMS_SENDER: 'KohaLib' }),
      new TestClock(new Date('2026-11-24T09:00:00Z')),
    );
    // The overdue notice at the central library goes by SMS, and by letter when SMS does not reach the patron.
    await kmc.rules.create({ message_type: 'overdue', level: 1, branchcode: 'CPL', delay_days: 7, channels: ['sms', 'print'] });
    await kmc.startChannels();
  });

  afterEach(async () => {
    await kmc.close();
    await smsc.close();
    await db.drop();
  });

  const messagesOf = (borrowernumber: number) => db.knex('kmc_messages').where({ borrowernumber }).orderBy('id');

  async function sendAsaHerSms() {
    await runNotices(kmc.notices, { type: 'overdue', date: RUN_DAY, startedBy: 'test' });
    await kmc.worker.deliverOnce();
    const [sms] = await messagesOf(lib.patrons.asa);
    expect(sms).to.include({ channel: 'sms', status: 'sent', to_address: '+46701234567' });
    return sms as { id: number; provider_id: string; level: number };
  }

  it('UNDELIV moves the SMS to bounced with the receipt in its history, and a letter goes instead', async () => {
    const sms = await sendAsaHerSms();
    expect(await smsc.sendReceipt(sms.provider_id, { form: 'text', stat: 'UNDELIV', err: '001' })).to.equal(0);
    await until('the replacement letter', async () => (await messagesOf(lib.patrons.asa)).length === 2, 10_000);

    const [bounced, letter] = await messagesOf(lib.patrons.asa);
    expect(bounced).to.include({ id: sms.id, status: 'bounced', status_reason: 'SMS_NOT_DELIVERED: the SMSC reports UNDELIV (err 001)' });
    const history = await kmc.store.events(sms.id);
    expect(history.map((e) => e.status)).to.deep.equal(['pending', 'sending', 'sent', 'bounced', 'bounced']);
    expect(history[3]).to.include({ detail: 'delivery receipt: UNDELIV (err 001)' });
    expect(history[4].detail).to.equal(`sent again by print as message ${String(letter.id)}`);

    expect(letter).to.include({ channel: 'print', status: 'pending', message_type: 'overdue', level: sms.level });
    expect(letter.status_reason).to.contain(`instead of message ${String(sms.id)}, which bounced`);
    const loans = (id: number) => db.knex('kmc_message_items').where({ message_id: id }).orderBy('issue_id').pluck('issue_id');
    expect(await loans(letter.id)).to.deep.equal(await loans(sms.id));

    // The same receipt offered again moves nothing and makes no second letter.
    expect(await smsc.sendReceipt(sms.provider_id, { form: 'tlv', stat: 'UNDELIV' })).to.equal(0);
    await until('the repeated receipt to be kept', async () => (await kmc.store.waitingReceipts()).length === 1, 10_000);
    expect(await messagesOf(lib.patrons.asa)).to.have.length(2);
  });

  it('a delivered receipt makes no replacement', async () => {
    const sms = await sendAsaHerSms();
    expect(await smsc.sendReceipt(sms.provider_id, { form: 'tlv', stat: 'DELIVRD' })).to.equal(0);
    await until('the receipt', async () => (await kmc.store.get(sms.id))!.status === 'delivered', 10_000);
    expect(await messagesOf(lib.patrons.asa)).to.have.length(1);
  });
});
