// Baseline: a bare nodemailer pool loop, the same pool size as the sidecar's, every message
// handed to the pool at once; nothing stored. Usage: node mail.mjs PORT COUNT [NOTICE.json]
// NOTICE.json ({ subject, text, html }): send that notice's content instead of the short one.
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const notice = process.argv[4] ? JSON.parse(readFileSync(process.argv[4], 'utf8')) : null;
const TEXT =
  'Dear patron,\n\nThe following loans are overdue:\n\n- Röda rummet (Strindberg, August), due 2026-11-10\n- Gösta Berlings saga (Lagerlöf, Selma), due 2026-11-15\n\nPlease return or renew them.\n\nCentralbiblioteket\n';
const HTML =
  '<p>Dear patron,</p><p>The following loans are overdue:</p><ul><li>Röda rummet</li><li>Gösta Berlings saga</li></ul><p>Centralbiblioteket</p>';

const transport = nodemailer.createTransport({
  pool: true,
  host: '127.0.0.1',
  port,
  secure: false,
  ignoreTLS: true,
  maxConnections: 5,
  maxMessages: 500,
});
await Promise.all(
  Array.from({ length: count }, (_, i) =>
    transport.sendMail({
      from: 'central@bibliotek.example.org',
      to: `patron${i}@example.org`,
      subject: notice ? notice.subject : `Overdue notice ${i}`,
      text: notice ? notice.text : TEXT,
      html: notice ? notice.html : HTML,
    }),
  ),
);
transport.close();
process.stdout.write(`${JSON.stringify({ sent: count })}\n`);
