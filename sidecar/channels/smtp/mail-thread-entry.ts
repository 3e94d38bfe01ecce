/** The e-mail thread (mail-thread.ts): keeps a pool per transport and sends, checks or closes as each task says. */
import type { Transporter } from 'nodemailer';
import { serveTasks } from '../../kernel';
import type { MailTask, MailSent } from './mail-thread';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the thread is the only place that loads it
const nodemailer = require('nodemailer') as typeof import('nodemailer');
const pools = new Map<number, Transporter>();

serveTasks<MailTask, MailSent | null>(async (task) => {
  if (task.op === 'close') {
    pools.get(task.transport)?.close();
    pools.delete(task.transport);
    return null;
  }
  let pool = pools.get(task.transport);
  if (!pool) pools.set(task.transport, (pool = nodemailer.createTransport(task.options)));
  if (task.op === 'verify') {
    await pool.verify();
    return null;
  }
  const info = (await pool.sendMail(task.mail)) as { messageId: string; response?: string };
  return { messageId: info.messageId, response: info.response ?? '' };
});
