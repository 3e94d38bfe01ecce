/**
 * The print folder under a large run: a group's PDF holds every letter of its
 * run and branch, so writing it again costs more as the run grows. The
 * letters of a run are written a bounded number of times, not once per
 * letter (5,000 letters made the worker re-render for hours), the PDF ends
 * with every letter, and a worker that died before writing it writes it
 * when the next one starts.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { PrintAdapter } from '../../sidecar/channels/print';
import { LetterPdfThread } from '../../sidecar/letters';
import { SettingsError } from '../../sidecar/errors';
import { printLetter } from '../support/print';

/** A render that costs time in proportion to its letters, like the real PDF writer: each call is recorded. */
function recordingRender(msPerLetter: number) {
  const calls: number[][] = [];
  return {
    calls,
    render: (ids: number[]) => {
      calls.push(ids);
      const until = performance.now() + ids.length * msPerLetter;
      while (performance.now() < until);
      return Promise.resolve(Buffer.from(`%PDF ${ids.join(',')}`));
    },
  };
}

const letter = (id: number) => printLetter(id, 9);

/** Hands letters over as the worker does: a few in flight at a time, the next as soon as one is accepted. */
async function handOver(adapter: PrintAdapter, ids: number[], inFlight = 4): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const outcome = await adapter.send(letter(ids[next++]));
      expect(outcome.kind).to.equal('accepted');
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

describe('the print folder under a large run of letters', function () {
  this.timeout(60_000);
  let dir: string;
  const today = () => new Date('2026-11-24T10:00:00Z');

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kmc-print-folder-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the PDF of 1,500 letters a bounded number of times, and whole at the end', async () => {
    const r = recordingRender(0.2);
    const adapter = new PrintAdapter({ dir, timeZone: 'UTC', now: today, render: r.render });
    await adapter.start();
    const ids = Array.from({ length: 1500 }, (_, i) => i + 1);
    await handOver(adapter, ids);
    await adapter.idle();
    const rendered = r.calls.reduce((sum, c) => sum + c.length, 0);
    // Rewriting after every few letters renders about n²/8 letters (281,000 here); a bounded rewrite renders each
    // letter a few times (more on a slow machine, where fewer letters are noted while a rewrite waits).
    expect(rendered, `${r.calls.length} renders of ${rendered} letters in all`).to.be.at.most(ids.length * 20);
    const pdf = readFileSync(path.join(dir, '2026-11-24', 'letters-CPL-run-9.pdf'), 'utf8');
    // Every letter once, in the order the lanes noted them.
    const inPdf = pdf.replace('%PDF ', '').split(',').map(Number);
    expect([...inPdf].sort((a, b) => a - b)).to.deep.equal(ids);
    await adapter.stop();
  });

  it('renders a burst of letters once each, at its end, and never a PDF that already has every letter', async () => {
    const r = recordingRender(0.2);
    const adapter = new PrintAdapter({ dir, timeZone: 'UTC', now: today, render: r.render });
    await adapter.start();
    const ids = Array.from({ length: 3000 }, (_, i) => i + 1);
    await handOver(adapter, ids, 16);
    await adapter.idle();
    await adapter.idle();
    const rendered = r.calls.reduce((sum, c) => sum + c.length, 0);
    // Rewriting as the group grew rendered each letter two to three times; a machine that stalls a moment may add one pass.
    expect(rendered, `${r.calls.length} renders: ${r.calls.map((c) => c.length).join(', ')}`).to.be.below(ids.length * 1.35);
    for (let i = 1; i < r.calls.length; i += 1)
      expect(r.calls[i].length, 'rendered again with no new letter').to.not.equal(r.calls[i - 1].length);
    await adapter.stop();
  });

  it('a letter handed over alone is in its PDF soon, without waiting for the round to end', async () => {
    const r = recordingRender(0);
    const adapter = new PrintAdapter({ dir, timeZone: 'UTC', now: today, render: r.render });
    await adapter.start();
    await adapter.send(letter(41));
    const file = path.join(dir, '2026-11-24', 'letters-CPL-run-9.pdf');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && r.calls.length === 0) await new Promise((res) => setTimeout(res, 20));
    await new Promise((res) => setTimeout(res, 50));
    expect(readFileSync(file, 'utf8')).to.equal('%PDF 41');
    await adapter.stop();
  });

  it('a letter noted twice (its outcome lost in a crash, then sent again) is in its PDF once', async () => {
    const r = recordingRender(0);
    const adapter = new PrintAdapter({ dir, timeZone: 'UTC', now: today, render: r.render });
    await adapter.start();
    await handOver(adapter, [3, 4, 3], 1);
    await adapter.idle();
    expect(adapter.timesNoted(3)).to.equal(2);
    expect(readFileSync(path.join(dir, '2026-11-24', 'letters-CPL-run-9.pdf'), 'utf8')).to.equal('%PDF 3,4');
    await adapter.stop();
  });

  it('a worker that starts writes the PDF of letters noted by one that stopped before writing it', async () => {
    // What a worker killed between noting letters and writing their PDF leaves behind: 5 written, 6 and 7 not.
    const spoolDir = path.join(dir, '.spool', '2026-11-24');
    mkdirSync(spoolDir, { recursive: true });
    writeFileSync(path.join(spoolDir, 'letters-CPL-run-9.ids'), '5\n6\n7\n');
    writeFileSync(path.join(spoolDir, 'letters-CPL-run-9.ids.written'), '1');
    mkdirSync(path.join(dir, '2026-11-24'), { recursive: true });
    const pdfFile = path.join(dir, '2026-11-24', 'letters-CPL-run-9.pdf');
    writeFileSync(pdfFile, '%PDF 5');
    // A group whose PDF staff printed and removed (with the day's folder) is not written again.
    writeFileSync(path.join(spoolDir, 'letters-HAF-run-9.ids'), '8\n');
    writeFileSync(path.join(spoolDir, 'letters-HAF-run-9.ids.written'), '1');
    // A group that never had its PDF written: written now.
    writeFileSync(path.join(spoolDir, 'letters-OST-run-9.ids'), '9\n');

    const r = recordingRender(0);
    const adapter = new PrintAdapter({ dir, timeZone: 'UTC', now: today, render: r.render });
    await adapter.start();
    await adapter.idle();
    expect(readFileSync(pdfFile, 'utf8')).to.equal('%PDF 5,6,7');
    expect(readFileSync(path.join(dir, '2026-11-24', 'letters-OST-run-9.pdf'), 'utf8')).to.equal('%PDF 9');
    expect(r.calls.map((c) => c.join(',')).sort()).to.deep.equal(['5,6,7', '9']);
    expect(existsSync(path.join(dir, '2026-11-24', 'letters-HAF-run-9.pdf'))).to.equal(false);
    await adapter.stop();
  });

  it("writes the PDF again when staff removed the day's folder while letters still come", async () => {
    const r = recordingRender(0);
    const adapter = new PrintAdapter({ dir, timeZone: 'UTC', now: today, render: r.render });
    await adapter.start();
    await handOver(adapter, [1]);
    await adapter.idle();
    rmSync(path.join(dir, '2026-11-24'), { recursive: true, force: true });
    await handOver(adapter, [2]);
    await adapter.idle();
    expect(readFileSync(path.join(dir, '2026-11-24', 'letters-CPL-run-9.pdf'), 'utf8')).to.equal('%PDF 1,2');
    await adapter.stop();
  });
});

describe("the letters' PDF thread", function () {
  this.timeout(60_000);

  it('renders on a thread of its own: the main thread loads no PDF library, and the process ends by itself', () => {
    const script = `
      const { LetterPdfThread } = require(${JSON.stringify(path.resolve(__dirname, '../../sidecar/letters'))});
      const thread = new LetterPdfThread();
      const letter = { messageId: 1, branchLines: ['Centralbiblioteket'], recipientLines: ['Åsa Öberg', 'Storgatan 1'], date: '24/11/2026', subject: 'Påminnelse', body: 'Hej Åsa' };
      thread.render([letter, { ...letter, messageId: 2 }], { title: 'Brev', lang: 'sv' }).then((pdf) => {
        const loaded = Object.keys(require.cache).filter((k) => /node_modules\\/(pdfkit|fontkit)\\//.test(k)).length;
        process.stdout.write(JSON.stringify({ head: pdf.subarray(0, 5).toString('latin1'), bytes: pdf.length, loaded }));
      });`;
    const out = execFileSync(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], { timeout: 30_000 }).toString();
    const answer = JSON.parse(out) as { head: string; bytes: number; loaded: number };
    expect(answer.head).to.equal('%PDF-');
    expect(answer.bytes).to.be.above(1000);
    expect(answer.loaded).to.equal(0);
  });

  it('says which font package is missing, as a settings error, without starting the thread', async () => {
    const thread = new LetterPdfThread();
    try {
      await thread.render([], { title: 'x', lang: 'en', fontDir: '/nonexistent/fonts' });
      expect.fail('should have thrown');
    } catch (err) {
      expect(err).to.be.instanceOf(SettingsError);
      expect((err as Error).message).to.include('fonts-dejavu-core');
    } finally {
      await thread.close();
    }
  });
});
