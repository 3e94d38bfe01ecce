import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import type { ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY } from '../support/library';
import { migrate } from '../../sidecar/db';
import { helpedCommands } from '../../sidecar/cli-help';
import { cliKind, runKmc } from '../support/cli';

describe(`the command line: --help, exit codes, --json only JSON (${cliKind()} CLI, ${kohaSchemaKind()} Koha schema)`, () => {
  let db: ScratchDatabase;
  let settings: Record<string, string>;

  before(async () => {
    db = await createKohaDatabase('cli_usage');
    await migrate(db.knex);
    await buildSmallLibrary(db.knex);
    // Nothing listens on these: a command that wrongly started work would fail, not reach a real server.
    settings = { KMC_DATABASE_URL: db.url, KMC_SMTP_URL: 'smtp://127.0.0.1:9?tls=off', KMC_PORT: '9' };
  });

  after(async () => {
    await db.drop();
  });

  it('kmc --help prints the usage, exit 0; kmc alone prints it, exit 2; an unknown command, exit 2', async () => {
    const help = await runKmc(['--help'], settings);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('kmc run TYPE');
    expect((await runKmc([], settings)).code).to.equal(2);
    const unknown = await runKmc(['frobnicate'], settings);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain('unknown command "frobnicate"');
  });

  for (const entry of helpedCommands()) {
    const words = entry.split(' ');
    it(`kmc ${entry} --help: its usage on stdout, exit 0`, async () => {
      const r = await runKmc([...words, '--help'], settings);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.contain(`kmc ${entry}`).and.contain('Exit codes');
      expect(r.stderr).to.equal('');
    });
  }

  for (const command of helpedCommands().filter((c) => !c.includes(' '))) {
    it(`kmc ${command} --bogus: a wrong flag, exit 2, nothing on stdout`, async () => {
      const r = await runKmc([command, '--bogus'], settings);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(/^kmc: /);
    });
  }

  it('a wrong value is exit 2 too: kmc run overdue --level x, kmc archive anonymise --days 0', async () => {
    expect((await runKmc(['run', 'overdue', '--level', 'x'], settings)).code).to.equal(2);
    expect((await runKmc(['archive', 'anonymise', '--days', '0'], settings)).code).to.equal(2);
  });

  it('failed work is exit 1: a database that does not answer', async () => {
    const r = await runKmc(['run', 'overdue', '--json'], { ...settings, KMC_DATABASE_URL: 'mysql://root@127.0.0.1:9/none' });
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.contain('kmc: ').and.not.contain('    at ');
  });

  it('kmc run overdue --json: stdout is one JSON object and nothing else; no log lines without --verbose', async () => {
    const r = await runKmc(['run', 'overdue', '--date', RUN_DAY, '--dry-run', '--json'], settings);
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout) as { created: number; byChannel: Record<string, number> };
    expect(report.created).to.be.greaterThan(0);
    expect(r.stderr).to.equal('');
  });

  it('with --verbose the log goes to stderr, and stdout is still only the JSON', async () => {
    const r = await runKmc(['run', 'overdue', '--date', RUN_DAY, '--dry-run', '--json', '--verbose'], settings);
    expect(r.code, r.stderr).to.equal(0);
    expect(() => JSON.parse(r.stdout) as unknown).not.to.throw();
    expect(r.stderr).not.to.equal('');
    for (const line of r.stderr.split('\n')) expect(() => JSON.parse(line) as unknown, line).not.to.throw();
  });
});
