/**
 * `kmc archive anonymise [--days N] [--json]`: anonymise now what the
 * nightly run would (messages older than KMC_RETENTION_DAYS, or --days).
 */
import { parseArgs } from 'node:util';
import type { Settings } from '../config';
import { UsageError } from '../errors';
import { anonymiseOldMessages, type AnonymiseDeps } from './anonymise';

export const ARCHIVE_USAGE =
  '  kmc archive anonymise [--days N] [--json]   remove contact data and text from messages older than the retention period';

export async function archiveCommand(
  args: string[],
  services: AnonymiseDeps & { settings: Pick<Settings, 'retentionDays'> },
  out: { stdout: (s: string) => void },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { days: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals[0] !== 'anonymise' || positionals.length !== 1)
    throw new UsageError(`kmc archive takes one action: anonymise\n${ARCHIVE_USAGE}`);
  let days = services.settings.retentionDays;
  if (values.days !== undefined) {
    if (!/^\d+$/.test(values.days) || Number(values.days) < 1)
      throw new UsageError(`--days takes a whole number of days, at least 1, got "${values.days}"`);
    days = Number(values.days);
  }
  const result = await anonymiseOldMessages(services, { retentionDays: days, actor: 'cli' });
  if (values.json) out.stdout(JSON.stringify({ ...result, retentionDays: days }));
  else
    out.stdout(
      `Anonymised ${result.messages} message(s) older than ${days} day(s) (created before ${result.before} UTC); ${result.items} item line(s) cleared.`,
    );
  return 0;
}
