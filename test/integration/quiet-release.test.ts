/**
 * Releasing SMS after quiet hours never stalls behind a branch that is still
 * quiet: however many of its SMS wait first, an open branch's are released.
 */
import { expect } from 'chai';
import { kohaSchemaKind } from '../support/koha';
import { QuietHours, releaseQuietHours } from '../../sidecar/queue';
import { engineWorld, type EngineWorld } from './engine-support';

describe(`quiet-hours release across branches (${kohaSchemaKind()} Koha schema)`, function () {
  this.timeout(60_000);
  let w: EngineWorld;

  before(async () => {
    // 09:00 in Stockholm: the central library's night is over, the night branch is quiet until 12:00.
    w = await engineWorld('quietrel', { now: '2026-11-24T08:00:00Z' });
    await w.k.branch({ code: 'CPL', name: 'Centralbiblioteket' });
    await w.k.branch({ code: 'NGT', name: 'Nattfilialen' });
    await w.db.knex('kmc_branch_settings').insert([
      { branchcode: 'CPL', sms_enabled: 1, quiet_from: '21:00:00', quiet_to: '08:00:00' },
      { branchcode: 'NGT', sms_enabled: 1, quiet_from: '21:00:00', quiet_to: '12:00:00' },
    ]);
  });

  after(async () => {
    await w.close();
  });

  it("1,500 held SMS of a branch still quiet come first; the open branch's SMS behind them is released", async () => {
    const at = '2026-11-23 22:00:00.000';
    const held = (n: number, branchcode: string) => ({
      idempotency_key: `quiet-test:${branchcode}:${n}`,
      message_type: 'overdue',
      level: 1,
      borrowernumber: 1,
      branchcode,
      channel: 'sms',
      status: 'held',
      status_reason: `SMS quiet hours at ${branchcode} (21:00 to 08:00): it goes out when they end`,
      to_address: '+46701234567',
      subject: '',
      body_text: 'Overdue',
      created_at: at,
      updated_at: at,
    });
    const rows = Array.from({ length: 1500 }, (_, i) => held(i, 'NGT'));
    for (let i = 0; i < rows.length; i += 500) await w.db.knex('kmc_messages').insert(rows.slice(i, i + 500));
    await w.db.knex('kmc_messages').insert(held(0, 'CPL'));

    const quietHours = () => QuietHours.load(w.kmc.branches, 'Europe/Stockholm');
    const released = await releaseQuietHours({ store: w.kmc.store, quietHours, clock: w.clock, logger: w.kmc.logger }, 'test');
    expect(released).to.equal(1);
    const [byBranch] = (await w.db.knex.raw('SELECT branchcode, status, COUNT(*) AS n FROM kmc_messages GROUP BY branchcode, status')) as [
      Array<{ branchcode: string; status: string; n: number | string }>,
    ];
    expect(byBranch.map((r) => [r.branchcode, r.status, Number(r.n)])).to.have.deep.members([
      ['CPL', 'pending', 1],
      ['NGT', 'held', 1500],
    ]);
  });
});
