/**
 * What makes an item of a notice no longer current, by notice type, from
 * where Koha's tables stand now; and every recorded cause said in the staff
 * member's words.
 */
import { expect } from 'chai';
import { STALE_WORDS, staleCause, type StaleCause } from '../../sidecar/notices';
import { translator } from '../../sidecar/web/i18n';
import { reasonWords } from '../../sidecar/web/words';

const AT = { moment: '2026-11-24 09:00:00', today: '2026-11-24' };
const koha = {
  loans: new Map([
    [1, '2026-11-10 23:59:00'],
    [2, '2026-12-10 23:59:00'],
    [3, '2026-11-24 08:30:00'],
  ]),
  holds: new Map([
    [10, { found: 'W', expirationdate: '2026-11-30' }],
    [11, { found: 'W', expirationdate: '2026-11-23' }],
    [12, { found: 'T', expirationdate: null }],
    [13, { found: 'W', expirationdate: '2026-11-24' }],
  ]),
};
const loan = (issue_id: number, date_due: string | null = null) => ({ issue_id, reserve_id: null, date_due });
const hold = (reserve_id: number) => ({ issue_id: null, reserve_id, date_due: null });

describe('never stale: what is no longer current', () => {
  it('an overdue notice: a returned loan, or one renewed so it is not overdue at this moment', () => {
    expect(staleCause('overdue', loan(1), koha, AT)).to.equal(null);
    expect(staleCause('overdue', loan(99), koha, AT)).to.equal('returned');
    expect(staleCause('overdue', loan(2), koha, AT)).to.equal('not_overdue');
    expect(staleCause('replacement_bill', loan(99), koha, AT)).to.equal('returned');
  });

  it('a pre-due reminder: a returned loan, one renewed to another date, one whose due time has passed', () => {
    expect(staleCause('predue', loan(2, '2026-12-10 23:59:00'), koha, AT)).to.equal(null);
    expect(staleCause('predue', loan(2, '2026-11-26 23:59:00'), koha, AT)).to.equal('renewed');
    expect(staleCause('predue', loan(99, '2026-11-26 23:59:00'), koha, AT)).to.equal('returned');
    expect(staleCause('predue', loan(3, '2026-11-24 08:30:00'), koha, AT)).to.equal('due_time_passed');
  });

  it('a hold notice: picked up or cancelled (gone from reserves), no longer waiting, or expired; its last day still counts', () => {
    expect(staleCause('hold_waiting', hold(10), koha, AT)).to.equal(null);
    expect(staleCause('hold_waiting', hold(13), koha, AT)).to.equal(null);
    expect(staleCause('hold_waiting', hold(99), koha, AT)).to.equal('hold_gone');
    expect(staleCause('hold_reminder', hold(12), koha, AT)).to.equal('hold_not_waiting');
    expect(staleCause('hold_reminder', hold(11), koha, AT)).to.equal('hold_expired');
  });

  it('every recorded cause, and the heads of the history lines, are said in each staff language', () => {
    for (const lang of ['en', 'sv', 'da', 'de'] as const) {
      const t = translator(lang);
      for (const cause of Object.keys(STALE_WORDS) as StaleCause[]) {
        const recorded = `nothing left to send; ${STALE_WORDS[cause]}: BC1, BC2`;
        // Each cause has its own catalogue key, why.stale_<cause>, carrying the items.
        expect(reasonWords(t, recorded), `${lang} ${cause}`).to.equal(
          `${t('why.stale_nothing_left')}; ${t(`why.stale_${cause}`, { items: 'BC1, BC2' })}`,
        );
        if (lang !== 'en') expect(t(`why.stale_${cause}`, { items: '' }), `${lang} ${cause}`).to.not.contain(STALE_WORDS[cause]);
      }
      const two = reasonWords(t, `items no longer current left out; ${STALE_WORDS.returned}: A1; ${STALE_WORDS.hold_expired}: H2`);
      expect(two).to.equal(
        `${t('why.stale_items_dropped')}; ${t('why.stale_returned', { items: 'A1' })}; ${t('why.stale_hold_expired', { items: 'H2' })}`,
      );
    }
  });
});
