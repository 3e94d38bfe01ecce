/**
 * Delivery receipts when the SMSC gives the same message ids again: the
 * real test SMSC is restarted on the same port, so its ids start again at
 * the same values. The new messages get their receipts; the old ones,
 * already delivered or long past the receipt validity, are not moved.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { TestClock, testServices, testSettings } from '../support/sidecar';
import { TestSmsc, type ReceivedSms } from '../support/smsc';
import type { App as Services } from '../../sidecar/main';
import type { MessageRow } from '../../sidecar/queue';
import { deliveryWorld, smsMessage, until } from './delivery-support';

const DAY = 24 * 3600_000;

describe(`SMS receipts when the SMSC reuses its message ids (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let onAccepted: ((m: ReceivedSms) => void) | null = null;
  const world = deliveryWorld('reusedids', { onMessage: (m) => onAccepted?.(m) });
  let kmc: Services;
  const clock = new TestClock(new Date('2026-11-02T08:00:00Z'));

  before(async () => {
    kmc = testServices(
      testSettings(world.db.url, {
        KMC_SMPP_URL: world.smsc.url,
        KMC_SMPP_PDU_TIMEOUT_MS: '2000',
        KMC_SMPP_ENQUIRE_LINK_SECONDS: '0',
        KMC_SMS_SENDER: 'KohaLib',
      }),
      clock,
    );
    await kmc.startChannels();
  });

  // Before the world's own teardown closes the SMSC and drops the database.
  afterEach(async () => {
    await kmc.close();
  });

  const row = async (id: number): Promise<MessageRow> => (await kmc.store.get(id))!;
  const insert = async (texts: string[]): Promise<number[]> =>
    (
      await kmc.store.insertMessages(
        texts.map((t) => smsMessage(t)),
        clock.now(),
        'test',
      )
    ).ids;

  it('after an SMSC restart the new messages get their receipts; old delivered ones and those past the validity stay as they were', async () => {
    const first = world.smsc;
    // Nine days ago: one message that never got a receipt (past the seven days of receipt validity).
    const [stale] = await insert(['Stale: sent nine days ago, never receipted']);
    await kmc.worker.deliverOnce();
    const staleId = (await row(stale)).provider_id!;

    // Two days ago, on the same SMSC: messages that were delivered, and one the phone refused.
    clock.advance(7 * DAY);
    const old = await insert(['Old one', 'Old two', 'Old three', 'Old four']);
    await kmc.worker.deliverOnce();
    const oldRows = await Promise.all(old.map(row));
    for (const [i, r] of oldRows.entries()) {
      expect(await first.sendReceipt(r.provider_id!, { form: 'tlv', stat: i === 3 ? 'UNDELIV' : 'DELIVRD' })).to.equal(0);
    }
    const oldBefore = await Promise.all(old.map(async (id) => ({ row: await row(id), history: await kmc.store.events(id) })));
    expect(oldBefore.map((o) => o.row.status)).to.deep.equal(['delivered', 'delivered', 'delivered', 'bounced']);

    // The SMSC restarts on the same port: its message ids start again at the same values.
    const port = world.smsc.port;
    await world.smsc.close();
    world.smsc = await TestSmsc.start({ port, onMessage: (m) => onAccepted?.(m) });
    const smsc = world.smsc;
    await until('the SMS account to bind again', () => smsc.boundSessions === 1, 10_000);

    // Today: new messages. Half get their receipt before the submit is even answered (so before `sent` is stored).
    clock.advance(2 * DAY);
    smsc.setResponseDelay(150);
    const early = new Set(['New one', 'New three', 'New five']);
    onAccepted = (m) => {
      if (early.has(m.text)) void smsc.sendReceipt(m.messageIds[m.messageIds.length - 1], { form: 'text', stat: 'DELIVRD' });
    };
    const fresh = await insert(['New one', 'New two', 'New three', 'New four', 'New five']);
    await kmc.worker.deliverOnce();
    const freshRows = await Promise.all(fresh.map(row));
    // The same ids as before the restart, the stale one's among them.
    expect(freshRows.map((r) => r.provider_id)).to.include.members([...oldRows.map((r) => r.provider_id), staleId]);
    for (const r of freshRows.filter((f) => !early.has(f.body_text ?? ''))) {
      expect(await smsc.sendReceipt(r.provider_id!, { form: 'tlv', stat: 'DELIVRD' })).to.equal(0);
    }
    await until(
      'every early receipt to be applied',
      async () => (await Promise.all(fresh.map(row))).every((r) => r.status !== 'sent'),
      10_000,
    );

    for (const id of fresh) {
      const r = await row(id);
      expect(r.status, r.body_text ?? '').to.equal('delivered');
      expect((await kmc.store.events(id)).map((e) => e.status)).to.deep.equal(['pending', 'sending', 'sent', 'delivered']);
    }
    for (const [i, id] of old.entries()) {
      expect(await row(id), `old message ${String(i + 1)}`).to.deep.equal(oldBefore[i].row);
      expect(await kmc.store.events(id), `history of old message ${String(i + 1)}`).to.deep.equal(oldBefore[i].history);
    }
    expect((await row(stale)).status, 'past the receipt validity: not moved').to.equal('sent');

    // The same receipt offered twice moves nothing: it is kept for inspection.
    expect(await smsc.sendReceipt(freshRows[1].provider_id!, { form: 'tlv', stat: 'UNDELIV' })).to.equal(0);
    await until('the repeated receipt to be kept', async () => (await kmc.store.waitingReceipts()).length === 1);
    expect((await row(fresh[1])).status).to.equal('delivered');
    expect(await kmc.store.waitingReceipts()).to.have.length(1);
    expect((await kmc.store.waitingReceipts())[0]).to.include({ provider_id: freshRows[1].provider_id, stat: 'UNDELIV', message_id: null });
  });
});
