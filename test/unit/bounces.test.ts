import { expect } from 'chai';
import { classifyBounce } from '../../sidecar/bounces';
import { crlf, deliveryStatusReport, returnedNotice as returnedNoticeTo } from '../support/bounce-reports';

/** The notice as it went out: our VERP return path and the sidecar's own header. */
const returnedNotice = returnedNoticeTo('bounce+4711.k3xq9a@bounce.library.example');

function dsn(opts: { to: string; action: string; status: string; diagnostic: string }): string {
  return deliveryStatusReport({
    ...opts,
    deliveredTo: opts.to,
    finalRecipient: 'Asa.Oberg@patron.example',
    originalRecipient: 'asa.oberg@patron.example',
    returned: returnedNotice,
  });
}

describe('bounce classifier on crafted messages', () => {
  it('reads an RFC 3464 report to our VERP return path: hard, the recipient, the tag, the returned notice', async () => {
    const v = await classifyBounce(
      dsn({
        to: 'bounce+4711.k3xq9a@bounce.library.example',
        action: 'failed',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <asa.oberg@patron.example>: Recipient address rejected: User unknown in local recipient table',
      }),
    );
    expect(v).to.include({ kind: 'hard', recipient: 'asa.oberg@patron.example', status: '5.1.1', reason: 'userunknown' });
    expect(v.diagnostic).to.equal(
      '550 5.1.1 <asa.oberg@patron.example>: Recipient address rejected: User unknown in local recipient table',
    );
    expect(v.returnPath).to.equal('bounce+4711.k3xq9a@bounce.library.example');
    expect(v.verpTag).to.equal('4711.k3xq9a');
    expect(v.original).to.deep.include({
      messageId: 'kmc-4711@library.example',
      to: 'asa.oberg@patron.example',
      returnPath: 'bounce+4711.k3xq9a@bounce.library.example',
    });
    expect(v.original?.xHeaders).to.deep.equal({ 'x-kmc-message-id': '4711' });
  });

  it('calls a full mailbox soft, and a delayed report soft whatever its words', async () => {
    const full = await classifyBounce(
      dsn({ to: 'bounce+4711.k3xq9a@bounce.library.example', action: 'failed', status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full' }),
    );
    expect(full).to.include({ kind: 'soft', reason: 'mailboxfull', status: '5.2.2' });
    const delayed = await classifyBounce(
      dsn({ to: 'x@library.example', action: 'delayed', status: '4.4.7', diagnostic: '450 4.1.1 User unknown, will retry' }),
    );
    expect(delayed.kind).to.equal('soft');
    // Sent to a plain address, the report still names our return path in the returned notice.
    expect(delayed.returnPath).to.equal('bounce+4711.k3xq9a@bounce.library.example');
    expect(delayed.verpTag).to.equal('4711.k3xq9a');
  });

  it('calls a report of a delivery that succeeded delivered', async () => {
    const v = await classifyBounce(
      dsn({ to: 'x@library.example', action: 'delivered', status: '2.0.0', diagnostic: '250 2.0.0 Ok: queued' }),
    );
    expect(v).to.include({ kind: 'delivered', recipient: 'asa.oberg@patron.example' });
  });

  it('bounds the server words it keeps', async () => {
    const v = await classifyBounce(
      dsn({ to: 'x@library.example', action: 'failed', status: '5.7.1', diagnostic: `550 5.7.1 ${'policy '.repeat(200)}` }),
    );
    expect(v.kind).to.equal('soft');
    expect(v.diagnostic?.length).to.be.at.most(500);
  });

  it('finds the recipient of a text-only report in the returned headers, and the tag in their return path', async () => {
    const v = await classifyBounce(
      crlf(
        'From: MAILER-DAEMON@relay.patron.example',
        'To: notices@library.example',
        'Subject: failure notice',
        '',
        'Your message could not be delivered. Nothing more is known here.',
        '',
        '----- Original message -----',
        '',
        returnedNotice,
      ),
    );
    expect(v.kind).to.not.equal('not_bounce');
    expect(v.kind).to.not.equal('hard');
    expect(v.recipient).to.equal('asa.oberg@patron.example');
    expect(v.original?.messageId).to.equal('kmc-4711@library.example');
    expect(v.returnPath).to.equal('bounce+4711.k3xq9a@bounce.library.example');
    expect(v.verpTag).to.equal('4711.k3xq9a');
  });

  it('takes an out-of-office answer for an auto-reply, never a bounce', async () => {
    for (const subject of ['Abwesenheitsnotiz: Overdue loans', 'Autosvar: Overdue loans', 'Frånvaro', 'Out of Office: Overdue loans']) {
      const v = await classifyBounce(
        crlf(
          `From: Åsa Öberg <asa.oberg@patron.example>`,
          'To: bounce+4711.k3xq9a@bounce.library.example',
          `Subject: ${subject}`,
          '',
          'I am away until Monday; your mailbox is full of my love.',
        ),
      );
      expect(v, subject).to.include({ kind: 'autoreply', recipient: 'asa.oberg@patron.example', verpTag: '4711.k3xq9a' });
    }
    const rfc3834 = await classifyBounce(
      crlf('From: a@patron.example', 'To: b@library.example', 'Auto-Submitted: auto-replied', 'Subject: Re: Overdue loans', '', 'Thanks.'),
    );
    expect(rfc3834.kind).to.equal('autoreply');
  });

  it('takes an ARF feedback report for a complaint about its original recipient', async () => {
    const v = await classifyBounce(
      crlf(
        'From: feedback@isp.example',
        'To: abuse@library.example',
        'Subject: Abuse report',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"',
        '',
        '--f',
        'Content-Type: text/plain',
        '',
        'A patron marked this as spam.',
        '--f',
        'Content-Type: message/feedback-report',
        '',
        'Feedback-Type: abuse',
        'User-Agent: Example-FBL/1.0',
        'Version: 1',
        'Original-Rcpt-To: <asa.oberg@patron.example>',
        '--f',
        'Content-Type: message/rfc822',
        '',
        returnedNotice,
        '--f--',
        '',
      ),
    );
    expect(v).to.include({ kind: 'complaint', recipient: 'asa.oberg@patron.example', reason: 'abuse', verpTag: '4711.k3xq9a' });
  });

  it("never calls a person's message hard, even one that forwards a bounce", async () => {
    const v = await classifyBounce(
      crlf(
        'From: Åsa Öberg <asa.oberg@patron.example>',
        'To: notices@library.example',
        'Subject: Fwd: Returned mail: see transcript for details',
        '',
        'Why did I get this?',
        '',
        '> ----- The following addresses had permanent fatal errors -----',
        '> <old.address@patron.example>',
        '>     (reason: 550 5.1.1 <old.address@patron.example>... User unknown)',
      ),
    );
    expect(v.kind).to.equal('soft');
    expect(v.reason).to.equal('userunknown');
  });

  it('leaves ordinary mail alone', async () => {
    const v = await classifyBounce(
      crlf(
        'From: Åsa <asa.oberg@patron.example>',
        'To: notices@library.example',
        'Subject: My loans',
        '',
        'Can I renew my user account loans?',
      ),
    );
    expect(v.kind).to.equal('not_bounce');
  });
});
