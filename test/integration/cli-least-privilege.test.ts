import { expect } from 'chai';
import { createKohaDatabase, kohaSchemaKind } from '../support/koha';
import { adminKnex, connect, urlFor, type ScratchDatabase } from '../support/db';
import { buildSmallLibrary, RUN_DAY, type SmallLibrary } from '../support/library';
import { MailCapture } from '../../sidecar/demo/capture-smtp';
import { grantStatements } from '../../sidecar/cli';
import { splitStatements } from '../../sidecar/db/migrations';
import { cliKind, runKmc as kmc } from '../support/cli';

// The real command in a child process: what it prints, and its exit code.
describe(`the whole path as a least-privilege database user (${kohaSchemaKind()} Koha schema, ${cliKind()} kmc)`, () => {
  let db: ScratchDatabase;
  let lib: SmallLibrary;
  let smtp: MailCapture;
  const user = { name: `kmc_lp_${process.pid}`, password: 'lp-Password-1' };
  let env: Record<string, string>;

  before(async () => {
    db = await createKohaDatabase('leastpriv');
    lib = await buildSmallLibrary(db.knex);
    smtp = new MailCapture();
    await smtp.start();
    const admin = adminKnex();
    await admin.raw(`DROP USER IF EXISTS '${user.name}'@'%'`);
    await admin.raw(`CREATE USER '${user.name}'@'%' IDENTIFIED BY '${user.password}'`);
    // localhost connections match an anonymous or localhost entry first on some installs; name both.
    await admin.raw(`DROP USER IF EXISTS '${user.name}'@'localhost'`);
    await admin.raw(`CREATE USER '${user.name}'@'localhost' IDENTIFIED BY '${user.password}'`);
    for (const host of ['%', 'localhost']) {
      for (const statement of splitStatements(grantStatements(user.name, host, db.name).join('\n'))) await admin.raw(statement);
    }
    env = {
      KMC_DATABASE_URL: urlFor(db.name, user),
      KMC_SMTP_URL: smtp.url,
      KMC_PRINT_DIR: `/tmp/kmc-lp-print-${process.pid}`,
      KMC_LOG_LEVEL: 'error',
    };
  });

  after(async () => {
    await smtp.stop();
    await adminKnex().raw(`DROP USER IF EXISTS '${user.name}'@'%'`);
    await adminKnex().raw(`DROP USER IF EXISTS '${user.name}'@'localhost'`);
    await db.drop();
  });

  it('the grants give SELECT on Koha tables and rights on kmc_ tables only', () => {
    const lines = grantStatements('kmc', 'localhost', 'koha').filter((l) => l.startsWith('GRANT'));
    expect(lines[0]).to.equal("GRANT SELECT ON `koha`.* TO 'kmc'@'localhost';");
    for (const l of lines.slice(1)) expect(l).to.match(/ON `koha`\.`kmc_[a-z_]+` TO/);
  });

  it('migrate, run, deliver and list messages all work as that user', async () => {
    const migrated = await kmc(['migrate'], env);
    expect(migrated.stderr).to.equal('');
    expect(migrated.code).to.equal(0);
    expect(migrated.stdout).to.contain('applied: 001_foundation.sql');
    expect((await kmc(['migrate'], env)).stdout).to.contain('up to date');

    const run = await kmc(['run', 'overdue', '--date', RUN_DAY, '--json'], env);
    expect(run.code).to.equal(0);
    const result = JSON.parse(run.stdout);
    expect(result).to.include({ created: 4, type: 'overdue', date: RUN_DAY });
    expect(result.byChannel).to.deep.equal({ email: 2, print: 2 });
    expect(result.byStatus).to.deep.equal({ pending: 4 });
    expect(result.skipped).to.be.a('number');

    const delivered = await kmc(['deliver', '--once', '--json'], env);
    expect(delivered.code).to.equal(0);
    expect(JSON.parse(delivered.stdout)).to.include({ sent: 4, failed: 0, retried: 0, held: 0 });
    expect(smtp.messages).to.have.length(2);

    const listed = await kmc(['messages', '--borrower', String(lib.patrons.asa), '--json'], env);
    const body = JSON.parse(listed.stdout);
    expect(body.messages).to.have.length(1);
    expect(body.messages[0]).to.include({ status: 'sent', channel: 'email', message_type: 'overdue' });
    expect(body.messages[0].items.map((i: { issue_id: number }) => i.issue_id).sort()).to.deep.equal(
      [lib.loans.asaOld, lib.loans.asaMid].sort(),
    );
  });

  it('that user cannot write to Koha tables', async () => {
    const asUser = connect(env.KMC_DATABASE_URL);
    try {
      let refused: { code?: string } | null = null;
      try {
        await asUser('borrowers').where({ borrowernumber: lib.patrons.asa }).update({ email: 'x@example.org' });
      } catch (err) {
        refused = err as { code?: string };
      }
      expect(refused?.code).to.equal('ER_TABLEACCESS_DENIED_ERROR');
      expect(await asUser('borrowers').where({ borrowernumber: lib.patrons.asa }).first('email')).to.deep.equal({
        email: 'asa.oberg@example.org',
      });
    } finally {
      await asUser.destroy();
    }
  });

  it('bad input gets a clear error and a non-zero exit', async () => {
    const badDate = await kmc(['run', 'overdue', '--date', '24/11/2026'], env);
    expect(badDate).to.include({ code: 1, stdout: '' });
    expect(badDate.stderr).to.equal('kmc: "24/11/2026" is not a date of the form YYYY-MM-DD [KMC_BAD_DATE]');
    const unknown = await kmc(['run', 'fax_blast'], env);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.contain('unknown message type "fax_blast"');
    const badSetting = await kmc(['migrate'], { ...env, KMC_DATABASE_URL: 'postgres://x@y/z' });
    expect(badSetting.code).to.equal(2);
    expect(badSetting.stderr).to.match(/^kmc: KMC_DATABASE_URL: must start with mysql:\/\//);
    const usage = await kmc(['deliver'], env);
    expect(usage.code).to.equal(2);
    expect(usage.stderr).to.contain('needs --once');
  });
});
