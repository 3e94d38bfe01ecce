/**
 * What the sidecar records, said in the staff member's words: reasons and
 * history entries, who did it, audit entries, the standard routines' names.
 * Known texts come from the catalogue; a text no pattern knows (a server's
 * reply) is data and stays as recorded.
 */
import { expect } from 'chai';
import { translator } from '../../sidecar/web/i18n';
import {
  actorWords,
  auditActionWords,
  auditDetailWords,
  auditObjectWords,
  jobWords,
  reasonWords,
  routineNameWords,
  scheduleWords,
} from '../../sidecar/web/words';

describe('recorded texts in the staff member’s words', () => {
  const sv = translator('sv');
  const en = translator('en');

  it('says known reasons in Swedish, one part after another, and leaves a server’s reply as it is', () => {
    expect(reasonWords(sv, 'left out by staff before approval')).to.equal('utelämnat av personalen före godkännandet');
    expect(reasonWords(sv, 'waiting for staff approval (routine "Overdue notices")')).to.equal(
      'väntar på godkännande av personalen (rutinen ”Krav”)',
    );
    expect(reasonWords(sv, 'no address for sms')).to.equal(`ingen adress för ${sv('channel.sms')}`);
    expect(reasonWords(sv, 'approved by staff; SMTP 550 mailbox unavailable')).to.equal(
      'godkänt av personalen; SMTP 550 mailbox unavailable',
    );
    expect(reasonWords(sv, 'SMTP 550 mailbox unavailable')).to.equal('SMTP 550 mailbox unavailable');
    expect(reasonWords(en, 'sent again by email as message 12')).to.equal('sent again as E-mail, message 12');
    expect(reasonWords(sv, null)).to.equal('');
  });

  it('names who did it: a staff member by name, the schedule, the sending process', () => {
    expect(actorWords(sv, 'staff:7', { 7: 'Karin Berg' })).to.equal('Karin Berg');
    expect(actorWords(sv, 'staff:8', {})).to.equal('personal nr 8');
    expect(actorWords(sv, 'scheduler')).to.equal('schemat');
    expect(actorWords(sv, 'vm:14040:3f2a')).to.equal('utskicksprocessen');
    expect(actorWords(en, 'smsc:CPL')).to.equal('the SMS centre (CPL)');
  });

  it('says an audit entry in words, never its JSON', () => {
    expect(auditActionWords(sv, 'run.approve')).to.equal('Godkände en körning');
    expect(auditObjectWords(sv, 'run', '4')).to.equal('körning 4');
    const detail = auditDetailWords(sv, 'run.approve', '{"queued":3,"held":0,"cancelled":1,"missing":0,"failed":0}');
    expect(detail).to.equal('3 köade, 1 utelämnade, 0 utan kontaktuppgifter, 0 misslyckade');
    expect(auditDetailWords(sv, 'signin', '{"via":"launch"}')).to.equal('öppnat från Koha');
    expect(auditDetailWords(sv, 'run.approve', 'not json')).to.not.contain('{');
    expect(auditActionWords(sv, 'something.new')).to.equal('Annan åtgärd (something.new)');
  });

  it('names the standard routines in the staff member’s language and staff’s own routines as written', () => {
    expect(routineNameWords(sv, 'Overdue notices')).to.equal('Krav');
    expect(routineNameWords(sv, 'Kravrutin Barn')).to.equal('Kravrutin Barn');
    expect(jobWords(sv, 'archive:anonymise')).to.equal('Nattlig anonymisering av gamla meddelanden');
    expect(jobWords(sv, 'manual:overdue:1a2b3c4d', 'overdue')).to.equal('Körd för hand: Krav');
  });

  it('says a schedule in words in the staff member’s language, with a 24-hour clock', () => {
    expect(scheduleWords(en, 'en', '30 6 * * 1-5')).to.equal('At 06:30, Monday through Friday');
    expect(scheduleWords(sv, 'sv', '30 6 * * 1-5')).to.equal('Kl 06:30, måndag till fredag');
    expect(scheduleWords(translator('de'), 'de', '0 9 * * *')).to.equal('Um 09:00');
    expect(scheduleWords(translator('da'), 'da', '0 9 * * *')).to.equal('Kl 09:00');
    expect(scheduleWords(sv, 'sv', null)).to.equal(sv('routine.by_hand'));
    expect(scheduleWords(sv, 'sv', 'not a schedule')).to.equal('not a schedule');
  });
});
