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
  return async () => {
    if (known && now() - known.at < refreshMs) return known.value;
    const prefs = await host.systemPreferences([name]);
    known = { value: prefs[name]?.trim() || null, at: now() };
    return known.value;
  };
}
