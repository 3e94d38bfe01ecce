/**
 * One of Koha's system preferences read again at most once per `refreshMs`:
 * for values asked for on every message (NoticeBcc), so a change in Koha
 * takes effect within a minute without a query per message.
 */
import type { HostReader } from './reader';

export interface CachedPreferenceOptions {
  /** How long a read value is trusted; default one minute. */
  refreshMs?: number;
  now?: () => number;
}

/** A reader of one preference, trimmed; null when Koha has it empty or not at all. */
export function cachedPreference(
  host: Pick<HostReader, 'systemPreferences'>,
  name: string,
  opts: CachedPreferenceOptions = {},
): () => Promise<string | null> {
  const refreshMs = opts.refreshMs ?? 60_000;
  const now = opts.now ?? Date.now;
  let known: { value: string | null; at: number } | null = null;
  // Messages sent at once share one read: a burst never becomes a query per message.
  let reading: Promise<string | null> | null = null;
  return () => {
    if (known && now() - known.at < refreshMs) return Promise.resolve(known.value);
    reading ??= host
      .systemPreferences([name])
      .then((prefs) => {
        known = { value: prefs[name]?.trim() || null, at: now() };
        return known.value;
      })
      .finally(() => {
        reading = null;
      });
    return reading;
  };
}
