/**
 * `kmc bounces classify` as an admin runs it: saved messages in, one verdict
 * a file out, no database touched (the settings name none that exists).
 */
import { expect } from 'chai';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { cliKind, runKmc } from '../support/cli';

const CORPUS = path.resolve(__dirname, '../../../shared/bounces');

describe(`kmc bounces classify (${cliKind()} command line)`, () => {
  before(() => {
    if (!existsSync(CORPUS)) throw new Error(`the shared bounce corpus is missing at ${CORPUS}`);
  });

  it('prints one JSON verdict a file, and goes on past a file it cannot read', async () => {
    const files = [path.join(CORPUS, 'lhost-postfix-04.eml'), path.join(CORPUS, 'arf-11.eml'), path.join(CORPUS, 'no-such-file.eml')];
    // A database that does not exist: classifying must not need one.
    const result = await runKmc(['bounces', 'classify', ...files, '--json'], { KMC_DATABASE_URL: 'mysql://nobody@127.0.0.1:1/none' });
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).to.have.length(3);
    expect(lines[0]).to.include({ kind: 'hard', recipient: 'kijitora@example.co.jp', status: '5.1.1' });
    expect(lines[1]).to.include({ kind: 'complaint' });
    expect(lines[2]).to.have.property('error');
    expect(result.code).to.equal(1);
  });

  it('a wrong subcommand is a usage error (exit 2)', async () => {
    const result = await runKmc(['bounces', 'sort'], {});
    expect(result.code).to.equal(2);
    expect(result.stderr).to.match(/classify FILE/);
  });
});
