/** Messages as they come back to a notice's return path, for the bounce tests: real RFC 3464 reports, auto-replies, ordinary mail. */

/** Join lines with CRLF, as messages travel. */
export const crlf = (...lines: string[]): string => lines.join('\r\n');

/** The notice as it went out, as a report quotes it: our return path and the sidecar's own header. */
export function returnedNotice(returnPath: string, recipient = 'Åsa Öberg <asa.oberg@patron.example>', messageId = 4711): string {
  return crlf(
    `Return-Path: <${returnPath}>`,
    'From: Solna Library <notices@library.example>',
    `To: ${recipient}`,
    'Subject: Overdue loans',
    `Message-ID: <kmc-${String(messageId)}@library.example>`,
    `X-KMC-Message-Id: ${String(messageId)}`,
    '',
    'Dear patron, ...',
  );
}

/** A Postfix-style RFC 3464 report (multipart/report with a message/delivery-status part) about one recipient of a notice. */
export function deliveryStatusReport(opts: {
  /** The report's To: where it was sent, normally the notice's return path. */
  to: string;
  /** A Delivered-To header, as a mailbox adds it. */
  deliveredTo?: string;
  finalRecipient?: string;
  originalRecipient?: string;
  action?: string;
  status?: string;
  diagnostic?: string;
  /** The quoted notice; by default one that went out with `to` as its return path. */
  returned?: string;
  messageId?: string;
}): string {
  const finalRecipient = opts.finalRecipient ?? 'gone@patron.example';
  const status = opts.status ?? '5.1.1';
  return crlf(
    'Return-Path: <>',
    ...(opts.deliveredTo ? [`Delivered-To: ${opts.deliveredTo}`] : []),
    'From: Mail Delivery System <MAILER-DAEMON@mx.patron.example>',
    `To: ${opts.to}`,
    'Subject: Undelivered Mail Returned to Sender',
    `Message-ID: <${opts.messageId ?? 'report-1@mx.patron.example'}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'I am sorry to have to inform you that your message could not be delivered.',
    '',
    '--b1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.patron.example',
    '',
    `Final-Recipient: rfc822; ${finalRecipient}`,
    ...(opts.originalRecipient ? [`Original-Recipient: rfc822; ${opts.originalRecipient}`] : []),
    `Action: ${opts.action ?? 'failed'}`,
    `Status: ${status}`,
    'Remote-MTA: dns; mail.patron.example',
    `Diagnostic-Code: smtp; ${opts.diagnostic ?? `550 ${status} <${finalRecipient}>: Recipient address rejected: User unknown`}`,
    '',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    opts.returned ?? returnedNotice(opts.to, finalRecipient),
    '',
    '--b1--',
    '',
  );
}

/** An out-of-office answer (RFC 3834) to the return path. */
export function outOfOffice(returnPath: string, messageId = 'ooo-1@patron.example'): string {
  return crlf(
    'From: Åsa Öberg <asa.oberg@patron.example>',
    `To: ${returnPath}`,
    'Subject: Automatic reply: Overdue loans',
    `Message-ID: <${messageId}>`,
    'Auto-Submitted: auto-replied',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'I am away until Monday.',
    '',
  );
}

/** Ordinary mail from a person. */
export function ordinaryMail(to: string, subject: string, messageId: string): string {
  return crlf(
    'From: A Colleague <colleague@library.example>',
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <${messageId}>`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Could you look at the book sale list before Friday?',
    '',
  );
}
