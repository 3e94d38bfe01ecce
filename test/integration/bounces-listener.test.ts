import { expect } from 'chai';
import { createConnection } from 'node:net';
import { createTransport } from 'nodemailer';
import {
  classifyBounce,
  readVerpTag,
  startBounceListener,
  verpReturnPath,
  type BounceEnvelope,
  type BounceListener,
} from '../../sidecar/bounces';
import { createMemoryLogger } from '../../sidecar/logging';
import { deliveryStatusReport } from '../support/bounce-reports';

const secret = 'listener test secret';
const bounceDomain = 'bounce.library.example';

interface Arrived {
  raw: Buffer;
  envelope: BounceEnvelope;
}

/** What the sending server was told: its error's SMTP code, or 250. */
async function send(
  port: number,
  envelope: { from: string; to: string[] },
  raw: string,
): Promise<{ code: number; accepted: string[]; rejected: string[] }> {
  // A mail server on the internet sending a report: no sign-in, no TLS here (loopback).
  const transport = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, connectionTimeout: 5000 });
  try {
    const info = await transport.sendMail({ envelope, raw });
    return { code: 250, accepted: info.accepted.map(String), rejected: info.rejected.map(String) };
  } catch (err: unknown) {
    const code = (err as { responseCode?: number }).responseCode ?? 0;
    return { code, accepted: [], rejected: envelope.to };
  } finally {
    transport.close();
  }
}

/** A raw SMTP conversation: the greeting, then the server's full reply to each command in turn. */
async function dialogue(port: number, commands: readonly string[]): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const replies: string[] = [];
    const queue = [...commands];
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      // A reply is complete at its last line, "NNN text" (the lines before it are "NNN-text").
      const end = /^\d{3} [^\n]*\n/m.exec(buffer);
      if (!end) return;
      replies.push(buffer.slice(0, end.index + end[0].length));
      buffer = buffer.slice(end.index + end[0].length);
      const next = queue.shift();
      if (next === undefined) {
        socket.end('QUIT\r\n');
        resolve(replies);
      } else socket.write(`${next}\r\n`);
    });
    socket.on('error', reject);
  });
}

describe('bounce listener (smtp-server, real SMTP over loopback)', () => {
  let listener: BounceListener | null = null;
  let arrived: Arrived[];
  let failNext: boolean;
  const logger = createMemoryLogger();

  beforeEach(async () => {
    arrived = [];
    failNext = false;
    listener = await startBounceListener({
      host: '127.0.0.1',
      port: 0,
      domains: [bounceDomain, 'Bounce.Branch2.example'],
      maxBytes: 64 * 1024,
      logger,
      onMessage: async (raw, envelope) => {
        // Handing on takes a moment; the sender must not be answered before it is done.
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (failNext) throw new Error('database gone');
        arrived.push({ raw, envelope });
      },
    });
  });

  afterEach(async () => {
    await listener?.stop();
    listener = null;
  });

  it('takes a real RFC 3464 report sent by nodemailer to the return path, and hands on the raw message and the envelope', async () => {
    const returnPath = verpReturnPath(4711, { secret, bounceDomain, senderAddress: 'notices@library.example' });
    const report = deliveryStatusReport({ to: returnPath });
    const answer = await send(listener!.port, { from: '', to: [returnPath] }, report);
    expect(answer.code).to.equal(250);
    expect(answer.accepted).to.deep.equal([returnPath]);
    expect(arrived).to.have.length(1);
    const { raw, envelope } = arrived[0];
    expect(envelope.mailFrom).to.equal('');
    expect(envelope.rcptTo).to.deep.equal([returnPath]);
    expect(envelope.remoteAddress).to.equal('127.0.0.1');
    expect(raw.toString('utf8')).to.include('Content-Type: message/delivery-status');
    expect(raw.toString('utf8')).to.include('Final-Recipient: rfc822; gone@patron.example');

    const verdict = await classifyBounce(raw, { envelopeTo: envelope.rcptTo });
    expect(verdict).to.include({ kind: 'hard', recipient: 'gone@patron.example', status: '5.1.1', returnPath });
    expect(readVerpTag(verdict.verpTag, secret)).to.deep.equal({ messageId: 4711 });
  });

  it('takes mail for every configured bounce domain, whatever the case of the address', async () => {
    const answer = await send(
      listener!.port,
      { from: '', to: ['BOUNCE+12.abcdefgh@bounce.branch2.EXAMPLE'] },
      deliveryStatusReport({ to: 'x@y.example' }),
    );
    expect(answer.code).to.equal(250);
    expect(arrived.map((a) => a.envelope.rcptTo)).to.deep.equal([['bounce+12.abcdefgh@bounce.branch2.example']]);
  });

  it('refuses a recipient at another domain with 550 at RCPT, and hands nothing on', async () => {
    const answer = await send(
      listener!.port,
      { from: 'someone@elsewhere.example', to: ['patron@library.example'] },
      'Subject: hi\r\n\r\nhello\r\n',
    );
    expect(answer.code).to.equal(550);
    expect(arrived).to.have.length(0);
    expect(logger.lines.some((l) => l.event === 'bounces.listener.recipient_refused' && l.level === 'debug')).to.equal(true);
  });

  it('of two recipients takes only the one at the bounce domain', async () => {
    const returnPath = verpReturnPath(5, { secret, bounceDomain, senderAddress: 'n@library.example' });
    const answer = await send(
      listener!.port,
      { from: '', to: ['patron@library.example', returnPath] },
      deliveryStatusReport({ to: returnPath }),
    );
    expect(answer.code).to.equal(250);
    expect(answer.rejected).to.deep.equal(['patron@library.example']);
    expect(arrived).to.have.length(1);
    expect(arrived[0].envelope.rcptTo).to.deep.equal([returnPath]);
  });

  it('refuses a message over the size limit with 552, its size said or not', async () => {
    const returnPath = verpReturnPath(6, { secret, bounceDomain, senderAddress: 'n@library.example' });
    const big = deliveryStatusReport({ to: returnPath }) + 'x'.repeat(76).concat('\r\n').repeat(1200);
    expect(big.length).to.be.greaterThan(64 * 1024);
    // Sent without saying its size: refused once the data has come.
    const answer = await send(listener!.port, { from: '', to: [returnPath] }, big);
    expect(answer.code).to.equal(552);
    // Its size said up front (SIZE=): refused before the data.
    const [, , mailFrom] = await dialogue(listener!.port, ['EHLO mx.patron.example', `MAIL FROM:<> SIZE=${String(big.length)}`]);
    expect(mailFrom).to.match(/^552 /);
    expect(arrived).to.have.length(0);
  });

  it('answers 451 when handing on failed, so the sending server tries again, and 250 when it then works', async () => {
    const returnPath = verpReturnPath(7, { secret, bounceDomain, senderAddress: 'n@library.example' });
    failNext = true;
    const first = await send(listener!.port, { from: '', to: [returnPath] }, deliveryStatusReport({ to: returnPath }));
    expect(first.code).to.equal(451);
    expect(arrived).to.have.length(0);
    expect(logger.lines.some((l) => l.event === 'bounces.listener.not_taken' && l.fields.error === 'database gone')).to.equal(true);
    failNext = false;
    const again = await send(listener!.port, { from: '', to: [returnPath] }, deliveryStatusReport({ to: returnPath }));
    expect(again.code).to.equal(250);
    expect(arrived).to.have.length(1);
  });

  it('offers no sign-in and no TLS, and says its size limit', async () => {
    const [greeting, ehlo] = await dialogue(listener!.port, ['EHLO mx.patron.example']);
    expect(greeting).to.match(/^220 /);
    expect(ehlo).to.match(/^250 /m);
    expect(ehlo).not.to.match(/AUTH/);
    expect(ehlo).not.to.match(/STARTTLS/);
    expect(ehlo).to.match(/SIZE 65536/);
  });

  it('stops cleanly: the port no longer answers', async () => {
    const port = listener!.port;
    await listener!.stop();
    listener = null;
    const refused = await new Promise<string>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        resolve(err.code ?? 'error');
      });
    });
    expect(refused).to.equal('ECONNREFUSED');
  });

  it('needs a bounce domain and a size', async () => {
    const onMessage = async () => {};
    let error: unknown = null;
    await startBounceListener({ host: '127.0.0.1', port: 0, domains: [' '], maxBytes: 1000, onMessage }).catch((e: unknown) => (error = e));
    expect(String(error)).to.match(/bounce domain/);
    error = null;
    await startBounceListener({ host: '127.0.0.1', port: 0, domains: ['b.example'], maxBytes: 0, onMessage }).catch(
      (e: unknown) => (error = e),
    );
    expect(String(error)).to.match(/bounce message size/);
  });
});
