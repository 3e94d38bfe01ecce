/**
 * What a run counts: messages made, by channel and status, and candidates
 * skipped with the reason. The run log itself is the runs capability's store.
 */

export interface RunStats {
  created: number;
  skipped: number;
  duplicates: number;
  byChannel: Record<string, number>;
  byStatus: Record<string, number>;
  skippedBy: Record<string, number>;
}

export function emptyStats(): RunStats {
  return { created: 0, skipped: 0, duplicates: 0, byChannel: {}, byStatus: {}, skippedBy: {} };
}

export function countInto(map: Record<string, number>, key: string, n = 1): void {
  map[key] = (map[key] ?? 0) + n;
}
