/**
 * What a run counts: messages made, by channel and status, and candidates
 * skipped with the reason; records skipped for their data are also listed
 * by id. The run log itself is the runs capability's store.
 */
import type { SkippedRecord } from '../runs';

export type { SkippedRecord };

/** Records listed by id at most; a run with more lists the first ones and counts them all. */
export const MAX_LISTED_RECORDS = 500;

export interface RunStats {
  created: number;
  skipped: number;
  duplicates: number;
  byChannel: Record<string, number>;
  byStatus: Record<string, number>;
  skippedBy: Record<string, number>;
  /** Records from Koha skipped because their data could not be used, with their ids (the first MAX_LISTED_RECORDS). */
  skippedRecords: SkippedRecord[];
}

export function emptyStats(): RunStats {
  return { created: 0, skipped: 0, duplicates: 0, byChannel: {}, byStatus: {}, skippedBy: {}, skippedRecords: [] };
}

export function countInto(map: Record<string, number>, key: string, n = 1): void {
  map[key] = (map[key] ?? 0) + n;
}
