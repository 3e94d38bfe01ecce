/**
 * SMS receipts under `kmc deliver --once`, as an admin runs it from cron:
 * the real command in a child process, the real test SMSC sending each
 * receipt well after the submit was answered. With no wait the process is
 * gone before the receipts come and its messages stay `sent`; with the wait
 * (KMC_SMS_RECEIPT_WAIT_SECONDS) it takes the receipts of what it sent and
 * those the SMSC offers again on the next bind, and records them before it
 * exits.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { cliKind } from '../support/cli';
import { MessageStore } from '../../sidecar/queue';
import type { ReceivedSms } from '../support/smsc';
import { deliveryWorld, smsMessage, startWorker, until, workerEnv } from './delivery-support';

/** Long after the submit was answered: a process that does not wait has exited by then. */
const RECEIPT_AFTER_MS = 1500;

describe(`SMS receipts under kmc deliver --once (${kohaSchemaKind()} Koha schema, ${cliKind()} kmc)`, function () {
  this.timeout(60_000);
  let onAccepted: ((m: ReceivedSms) => void) | null = null;
  const world = deliveryWorld('receiptsonce', { onMessage: (m) => onAccepted?.(m) });

  const deliverOnce = async (waitSeconds: string): Promise<Record<string, number>> => {
    const run = startWorker(workerEnv(world, { KMC_SMS_RECEIPT_WAIT_SECONDS: waitSeconds }), world.children);
    const { code } = await run.exit;
    expect(code, run.stderr.join('')).to.equal(0);
    return JSON.parse(run.stdout.join('').trim()) as Record<string, number>;
  };

  it('takes the receipts that come after the send and those offered on bind, records them, and counts them in --json', async () => {
    const { smsc } = world;
    const store = new MessageStore(world.db.knex);
    const status = async (ids: number[]) => Promise.all(ids.map(async (id) => (await store.get(id))?.status));

    // Receipts come late, whoever sends.
    const timers: NodeJS.Timeout[] = [];
    onAccepted = (m) => {
      const id = m.messageIds[m.messageIds.length - 1];
      timers.push(setTimeout(() => void smsc.sendReceipt(id, { form: 'tlv', stat: 'DELIVRD' }).catch(() => undefined), RECEIPT_AFTER_MS));
    };

    // 1. Without the wait: the process unbinds before the receipts come; its messages stay `sent`.
    const early = (await store.insertMessages([smsMessage('Early one'), smsMessage('Early two')], new Date(), 'test')).ids;
    const first = await deliverOnce('0');
    expect(first).to.include({ sent: 2, receipts: 0, awaitingReceipt: 2 });
    await new Promise((r) => setTimeout(r, RECEIPT_AFTER_MS + 500));
    expect(await status(early)).to.deep.equal(['sent', 'sent']);
    const earlyProviderIds = await Promise.all(early.map(async (id) => (await store.get(id))!.provider_id!));

    // 2. With the wait: the SMSC offers the missed receipts again on the next bind, and the new messages' receipts come late.
    onAccepted = (m) => {
      const id = m.messageIds[m.messageIds.length - 1];
      timers.push(setTimeout(() => void smsc.sendReceipt(id, { form: 'text', stat: 'DELIVRD' }).catch(() => undefined), RECEIPT_AFTER_MS));
    };
    const bindsBefore = smsc.binds.length;
    const offerOnBind = until('the next bind', () => smsc.binds.length > bindsBefore, 20_000).then(async () => {
      await until('the session to be bound', () => smsc.boundSessions === 1, 5_000);
      for (const id of earlyProviderIds) await smsc.sendReceipt(id, { form: 'tlv', stat: 'DELIVRD' });
    });
    const later = (
      await store.insertMessages([smsMessage('Later one'), smsMessage('Later two'), smsMessage('Later three')], new Date(), 'test')
    ).ids;
    const second = await deliverOnce('30');
    await offerOnBind;
    for (const t of timers) clearTimeout(t);

    expect(second).to.include({ sent: 3, receipts: 5, awaitingReceipt: 0 });
    // Recorded before the process exited: nothing is waiting to be applied, every message moved.
    expect(await status([...early, ...later])).to.deep.equal(Array(5).fill('delivered'));
    for (const id of later) {
      expect((await store.events(id)).map((e) => e.status)).to.deep.equal(['pending', 'sending', 'sent', 'delivered']);
    }
    expect(await store.waitingReceipts()).to.deep.equal([]);
  });
});
