/**
 * A notice run killed in the middle (SIGKILL: no chance to say failed) must
 * not stay `running` for good: once its lease runs out it is `abandoned`,
 * the next run of its type works as usual, and every loan is covered once.
 * The run is the real command, `kmc run overdue`, in a child process.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKohaDatabase, kohaSchemaKind, type KohaDatabase } from '../support/koha';
import { cliKind, kmcEnvironment, runKmc, spawnKmc } from '../support/cli';
import { migrate } from '../../sidecar/db';
import { seedLibrary } from '../../sidecar/fixture';
import { RunStore } from '../../sidecar/runs';

const TODAY = '2026-11-24';
/** The baseline level-1 rule waits 7 days: loans due before this are due for a first notice. */
const FIRST_NOTICE_DUE_BEFORE = '2026-11-18 00:00:00';

interface RunRow {
  id: number;
  status: string;
  finished_at: string | null;
  heartbeat_at: string | null;
  lease_past: number | string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`a notice run killed mid-way (${kohaSchemaKind()} Koha schema, ${cliKind()} kmc)`, function () {
  this.timeout(180_000);
  let db: KohaDatabase;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];

  before(async function () {
    db = await createKohaDatabase('runkill');
    await migrate(db.knex);
    // Enough overdue loans that the run is still writing when it is killed.
    await seedLibrary(db.knex, {
      today: TODAY,
      patrons: 6000,
      biblios: 3000,
      itemsPerBiblio: 4,
      loans: 10_000,
      overdueShare: 0.9,
      holds: 0,
      returnedLoans: 0,
    });
    env = {
      KMC_DATABASE_URL: db.url,
      KMC_SMTP_URL: 'smtp://127.0.0.1:1',
      KMC_PRINT_DIR: mkdtempSync(path.join(os.tmpdir(), 'kmc-runkill-')),
      KMC_LOG_LEVEL: 'error',
      KMC_TIMEZONE: 'Europe/Stockholm',
      // A lease of four seconds, so the test need not wait two minutes.
      KMC_RUN_HEARTBEAT_SECONDS: '1',
      // Every loan starts at level 1, as the counts below expect (the killed run is the library's first).
      KMC_FIRST_RUN_OVERDUE: 'all-levels',
    };
  });

  after(async function () {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await db.drop();
  });

  const runs = () =>
    db
      .knex('kmc_runs')
      .orderBy('id')
      .select<RunRow[]>('id', 'status', 'finished_at', 'heartbeat_at', db.knex.raw('lease_until < UTC_TIMESTAMP(3) AS lease_past'));
  const messagesOf = async (runId: number) => Number((await db.knex('kmc_messages').where({ run_id: runId }).count({ n: '*' }))[0].n);

  it('is marked abandoned once its lease has passed, and the next run covers every loan once', async function () {
    const child = spawnKmc(['run', 'overdue', '--date', TODAY, '--json'], { env: kmcEnvironment(env) });
    children.push(child);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => {
      child.on('exit', (_code, signal) => {
        resolve(signal);
      });
    });

    // Kill it once it has written some of its messages, and before it has finished.
    let killedRun: RunRow | undefined;
    for (let i = 0; i < 3000 && !killedRun; i += 1) {
      const [run] = (await runs()) as Array<RunRow | undefined>;
      if (run && run.status === 'running' && (await messagesOf(run.id)) > 0) {
        child.kill('SIGKILL');
        killedRun = run;
      } else await sleep(10);
    }
    expect(killedRun, 'the run wrote messages while running').to.not.equal(undefined);
    expect(await exited).to.equal('SIGKILL');
    const firstId = killedRun!.id;
    const madeBeforeKill = await messagesOf(firstId);
    let [dead] = await runs();
    expect(dead.status, 'a killed run cannot say it stopped').to.equal('running');
    expect(dead.heartbeat_at, 'the run said it was working').to.not.equal(null);

    // Its lease runs out four heartbeats after its last one.
    for (let i = 0; i < 100 && !Number((await runs())[0].lease_past); i += 1) await sleep(100);
    expect(Number((await runs())[0].lease_past), 'the lease has passed').to.equal(1);

    // Any reader of the run log sees it as abandoned, not running.
    expect(await new RunStore(db.knex).status(firstId)).to.equal('abandoned');
    [dead] = await runs();
    expect(dead.finished_at, 'ended at its last sign of life').to.equal(dead.heartbeat_at);

    const again = await runKmc(['run', 'overdue', '--date', TODAY, '--json'], env);
    expect(again.code, again.stderr).to.equal(0);
    const result = JSON.parse(again.stdout) as { runId: number; created: number };
    expect(result.created).to.be.greaterThan(0);
    const all = await runs();
    expect(all.map((r) => [r.id, r.status])).to.deep.equal([
      [firstId, 'abandoned'],
      [result.runId, 'finished'],
    ]);

    // Every loan due for a first notice is covered exactly once, by one run or the other.
    const covered = await db
      .knex('kmc_message_items')
      .where('coverage_key', 'like', 'overdue:1:issue:%')
      .select<Array<{ n: number | string; loans: number | string }>>(
        db.knex.raw('COUNT(*) AS n'),
        db.knex.raw('COUNT(DISTINCT issue_id) AS loans'),
      );
    const due = await db
      .knex({ i: 'issues' })
      .join({ b: 'borrowers' }, 'b.borrowernumber', 'i.borrowernumber')
      .leftJoin({ c: 'categories' }, 'c.categorycode', 'b.categorycode')
      .where('i.date_due', '<', FIRST_NOTICE_DUE_BEFORE)
      .where((w) => {
        void w.whereNull('c.overduenoticerequired').orWhere('c.overduenoticerequired', '<>', 0);
      })
      .count<Array<{ n: number | string }>>({ n: '*' });
    expect(Number(covered[0].loans)).to.equal(Number(covered[0].n));
    expect(Number(covered[0].n)).to.equal(Number(due[0].n));
    expect(madeBeforeKill).to.be.greaterThan(0);
    expect(await messagesOf(result.runId)).to.be.greaterThan(0);

    // A third run finds nothing left to do.
    const third = await runKmc(['run', 'overdue', '--date', TODAY, '--json'], env);
    expect(third.code, third.stderr).to.equal(0);
    expect((JSON.parse(third.stdout) as { created: number }).created).to.equal(0);
  });
});
