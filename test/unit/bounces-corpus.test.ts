import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { bouncesClassifyCommand, classifyBounce, type BounceKind } from '../../sidecar/bounces';

/** 356 real returned messages with the reference analyser's answer per file; kept beside the clone, never copied in. */
const CORPUS = path.resolve(__dirname, '../../../shared/bounces');

/** The measured agreement (files of 356): lower it only with a reason written here. */
const AGREED_AT_LEAST = 339;

interface Expected {
  kind: BounceKind;
}

function corpus(): Record<string, Expected> {
  const index = path.join(CORPUS, 'expected.json');
  if (!existsSync(index))
    throw new Error(
      `The bounce corpus is missing: ${index} not found. Tests need the shared reference folder ../shared/bounces beside the clone.`,
    );
  return JSON.parse(readFileSync(index, 'utf8')) as Record<string, Expected>;
}

/** Sisimai answers "unknown" where it cannot tell: a soft bounce or "unknown" from us is right there. */
function agrees(expected: BounceKind, got: BounceKind): boolean {
  return got === expected || (expected === 'unknown' && (got === 'soft' || got === 'unknown'));
}

describe('bounce classifier on the corpus of real returned mail', function () {
  this.timeout(120_000);

  it('agrees with the reference analyser on at least the measured share, and never calls a non-failure hard', async () => {
    const expected = new Map(Object.entries(corpus()));
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.eml'));
    expect(files.length, 'corpus files').to.equal(expected.size);

    const perKind = new Map<BounceKind, { files: number; agreed: number }>();
    const wrongHard: string[] = [];
    let agreed = 0;
    for (const file of files.sort()) {
      const entry = expected.get(file);
      if (!entry) throw new Error(`${file} has no expected answer in expected.json`);
      const want = entry.kind;
      const { kind } = await classifyBounce(readFileSync(path.join(CORPUS, file)));
      const row = perKind.get(want) ?? { files: 0, agreed: 0 };
      row.files++;
      if (agrees(want, kind)) {
        row.agreed++;
        agreed++;
      }
      perKind.set(want, row);
      if (kind === 'hard' && ['autoreply', 'complaint', 'delivered', 'not_bounce'].includes(want)) wrongHard.push(`${file} (${want})`);
    }

    const lines = ['kind        files  agree      %'];
    for (const [kind, row] of [...perKind].sort((a, b) => b[1].files - a[1].files))
      lines.push(
        `${kind.padEnd(10)} ${String(row.files).padStart(6)} ${String(row.agreed).padStart(6)} ${((100 * row.agreed) / row.files).toFixed(1).padStart(6)}`,
      );
    lines.push(
      `${'overall'.padEnd(10)} ${String(files.length).padStart(6)} ${String(agreed).padStart(6)} ${((100 * agreed) / files.length).toFixed(1).padStart(6)}`,
    );
    console.log(lines.map((l) => `      ${l}`).join('\n'));

    expect(wrongHard, 'hard bounces for auto-replies, complaints, delivery reports or ordinary mail').to.deep.equal([]);
    expect(agreed, 'files agreeing with the reference analyser').to.be.at.least(AGREED_AT_LEAST);
  });
});

describe('kmc bounces classify', function () {
  this.timeout(30_000);
  const run = async (files: string[], json: boolean) => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await bouncesClassifyCommand(files, { json }, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) });
    return { code, stdout, stderr };
  };
  const corpusFile = (name: string) => {
    corpus();
    return path.join(CORPUS, name);
  };

  it('prints one JSON object per file, goes on past a missing file and exits 1', async () => {
    const bounce = corpusFile('lhost-postfix-04.eml');
    const vacation = corpusFile('rfc3834-02.eml');
    const missing = path.join(CORPUS, 'no-such-message.eml');
    const { code, stdout } = await run([bounce, missing, vacation], true);
    expect(code).to.equal(1);
    const rows = stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).to.have.length(3);
    expect(rows[0]).to.include({ file: bounce, kind: 'hard', recipient: 'kijitora@example.co.jp', status: '5.1.1' });
    expect(rows[0]?.diagnostic).to.match(/550 5\.1\.1 Address rejected/);
    expect(rows[1]).to.deep.equal({ file: missing, error: 'cannot read: no such file' });
    expect(rows[2]).to.include({ file: vacation, kind: 'autoreply' });
  });

  it('prints a readable line per file, the unreadable one on stderr', async () => {
    const bounce = corpusFile('lhost-exim-02.eml');
    const { code, stdout, stderr } = await run([bounce, CORPUS], false);
    expect(code).to.equal(1);
    expect(stdout).to.have.length(1);
    expect(stdout[0]).to.match(/lhost-exim-02\.eml: hard kijitora@example\.jp/);
    expect(stderr).to.deep.equal([`kmc bounces classify: ${CORPUS}: cannot read: is a folder, not a saved message`]);
  });

  it('exits 0 when every file was read', async () => {
    const { code, stdout } = await run([corpusFile('arf-11.eml')], true);
    expect(code).to.equal(0);
    expect(JSON.parse(stdout[0] ?? '{}')).to.include({ kind: 'complaint' });
  });
});
