/**
 * Only the queue's transitions change a message's status or write its
 * history. This reads every source file of the sidecar and fails when code
 * elsewhere writes `kmc_message_events`, updates `kmc_messages.status`, or
 * inserts messages; and it shows, on made-up code, that each check can fail.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { placeMessage, WAITING_FOR_VERIFICATION, VERIFICATION_EXPIRED } from '../../sidecar/queue';

const SIDECAR = path.resolve(__dirname, '..', '..', 'sidecar');
const TRANSITIONS = path.join('queue', 'transitions') + path.sep;
/** The store reads a message's history (kmc_message_events) for the pages; it writes nothing there. */
const READS_EVENTS = new Set([path.join('queue', 'store.ts')]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** What in one file's text writes a message's status or history; empty when nothing does. */
export function statusWrites(text: string, opts: { mayReadEvents: boolean }): string[] {
  const found: string[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  if (opts.mayReadEvents) {
    if (/kmc_message_events['"`]\s*\)\s*\.\s*(insert|update|delete)\b/.test(code) || /insert\(\s*['"`]kmc_message_events/.test(code))
      found.push('writes kmc_message_events');
  } else if (/kmc_message_events/.test(code)) found.push('names kmc_message_events');
  // Each statement that names kmc_messages, up to its end.
  for (const m of code.matchAll(/kmc_messages\b(?!_)/g)) {
    const rest = code.slice(m.index, code.indexOf(';', m.index) === -1 ? undefined : code.indexOf(';', m.index));
    if (/\.update\(\s*\{[^}]*\bstatus\s*:/.test(rest)) found.push('updates kmc_messages.status');
    if (/\.update\(\s*[a-zA-Z_]+\s*\)/.test(rest)) found.push('updates kmc_messages with an object built elsewhere');
    if (/\.insert\(/.test(rest)) found.push('inserts into kmc_messages');
    if (/\bSET\b[\s\S]*\bstatus\s*=/i.test(rest)) found.push('sets status in SQL');
  }
  return found;
}

describe('one owner of message status', () => {
  it('no code outside queue/transitions writes a status or an event', () => {
    const offenders: string[] = [];
    for (const file of sources(SIDECAR)) {
      const rel = path.relative(SIDECAR, file);
      if (rel.startsWith(TRANSITIONS)) continue;
      for (const what of statusWrites(readFileSync(file, 'utf8'), { mayReadEvents: READS_EVENTS.has(rel) }))
        offenders.push(`${rel}: ${what}`);
    }
    expect(offenders).to.deep.equal([]);
  });

  it('the transitions themselves do write statuses and events (the check finds what it looks for)', () => {
    const all = sources(path.join(SIDECAR, TRANSITIONS)).flatMap((f) => statusWrites(readFileSync(f, 'utf8'), { mayReadEvents: false }));
    expect(all).to.include('names kmc_message_events');
    expect(all).to.include('updates kmc_messages.status');
  });

  it('finds each kind of write in made-up code', () => {
    expect(
      statusWrites(`await trx('kmc_messages').where({ id }).update({ status: 'pending', updated_at: at });`, { mayReadEvents: false }),
    ).to.deep.equal(['updates kmc_messages.status']);
    expect(statusWrites(`await trx('kmc_message_events').insert(rows);`, { mayReadEvents: true })).to.deep.equal([
      'writes kmc_message_events',
    ]);
    expect(statusWrites(`await knex('kmc_message_events').where({ message_id: 1 });`, { mayReadEvents: false })).to.deep.equal([
      'names kmc_message_events',
    ]);
    expect(statusWrites(`await trx('kmc_messages').where({ id: m.id }).update(update);`, { mayReadEvents: false })).to.deep.equal([
      'updates kmc_messages with an object built elsewhere',
    ]);
    expect(
      statusWrites(`await knex.raw('UPDATE kmc_messages SET status = ? WHERE id = ?', ['sent', 1]);`, { mayReadEvents: false }),
    ).to.deep.equal(['sets status in SQL']);
    // Reads, and the status of other tables, are fine.
    expect(statusWrites(`await knex('kmc_messages').where({ status: 'held' }).select('id');`, { mayReadEvents: false })).to.deep.equal([]);
    expect(statusWrites(`await knex('kmc_runs').where({ id }).update({ status: 'finished' });`, { mayReadEvents: false })).to.deep.equal(
      [],
    );
  });
});

describe('the placement rule', () => {
  it('puts a message in the queue when nothing holds it', () => {
    expect(placeMessage({ channel: 'email' })).to.deep.equal({ status: 'pending', reason: null });
    expect(placeMessage({ channel: 'print', quietHours: 'SMS quiet hours at CPL' })).to.deep.equal({ status: 'pending', reason: null });
  });
  it('holds an e-mail to an address waiting for verification, and finds no address in an expired one', () => {
    expect(placeMessage({ channel: 'email', emailState: 'held' })).to.deep.equal({ status: 'held', reason: WAITING_FOR_VERIFICATION });
    expect(placeMessage({ channel: 'email', emailState: 'expired' })).to.deep.equal({
      status: 'missing_contact',
      reason: VERIFICATION_EXPIRED,
    });
    // The e-mail's state says nothing about an SMS.
    expect(placeMessage({ channel: 'sms', emailState: 'held' })).to.deep.equal({ status: 'pending', reason: null });
  });
  it('holds an SMS during its branch quiet hours', () => {
    expect(placeMessage({ channel: 'sms', quietHours: 'SMS quiet hours at CPL (21:00 to 08:00)' })).to.deep.equal({
      status: 'held',
      reason: 'SMS quiet hours at CPL (21:00 to 08:00)',
    });
  });
  it('proposes what needs approval, saying where it would have gone', () => {
    expect(placeMessage({ channel: 'sms', quietHours: 'SMS quiet hours at CPL', approval: { routineName: 'Nightly' } })).to.deep.equal({
      status: 'proposed',
      reason: 'waiting for staff approval (routine "Nightly"); then SMS quiet hours at CPL',
    });
    expect(placeMessage({ channel: 'email', approval: { routineName: null } })).to.deep.equal({
      status: 'proposed',
      reason: 'waiting for staff approval',
    });
  });
});
