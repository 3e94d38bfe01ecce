/**
 * The verification settings, kept in kmc_settings so staff can change them
 * without a restart. Read and checked at the start of every scan (and once
 * when the server starts, so a bad value stops it with the setting's name).
 */
import { SettingsError } from '../errors';
import type { SettingsReader } from '../settings';

export const SETTING = {
  validDays: 'verification_valid_days',
  exemptCategories: 'verification_exempt_categories',
  clearExpiredInKoha: 'verification_clear_expired_in_koha',
  /** Set by the first scan: the moment existing addresses were taken as verified. */
  baselineAt: 'verification_baseline_at',
} as const;

export interface VerificationSettings {
  /** How long a link stays valid. */
  validDays: number;
  /** Patron categories whose addresses need no verification (e.g. imported patrons). */
  exemptCategories: Set<string>;
  /** Clear an expired address in Koha's borrowers table too (the one write to a Koha table). */
  clearExpiredInKoha: boolean;
}

export const DEFAULT_VALID_DAYS = 3;

/** Checks the raw values; every problem names the setting. */
export function parseVerificationSettings(raw: Record<string, string | null | undefined>): VerificationSettings {
  const daysText = (raw[SETTING.validDays] ?? '').trim();
  let validDays = DEFAULT_VALID_DAYS;
  if (daysText) {
    if (!/^\d+$/.test(daysText) || Number(daysText) < 1 || Number(daysText) > 30) {
      throw new SettingsError(SETTING.validDays, `must be a whole number of days from 1 to 30, got "${daysText}"`);
    }
    validDays = Number(daysText);
  }

  const exemptCategories = new Set<string>();
  for (const part of (raw[SETTING.exemptCategories] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    // Koha's categories.categorycode is varchar(10).
    if (!/^[A-Za-z0-9_-]{1,10}$/.test(part)) {
      throw new SettingsError(
        SETTING.exemptCategories,
        `"${part}" is not a patron category code (letters, digits, _ or -, at most 10); separate codes with commas`,
      );
    }
    exemptCategories.add(part);
  }

  const clearText = (raw[SETTING.clearExpiredInKoha] ?? '').trim().toLowerCase();
  let clearExpiredInKoha = false;
  if (clearText) {
    if (['1', 'true', 'yes', 'on'].includes(clearText)) clearExpiredInKoha = true;
    else if (!['0', 'false', 'no', 'off'].includes(clearText)) {
      throw new SettingsError(SETTING.clearExpiredInKoha, `must be 1 (on) or 0 (off), got "${clearText}"`);
    }
  }
  return { validDays, exemptCategories, clearExpiredInKoha };
}

export async function loadVerificationSettings(settings: Pick<SettingsReader, 'values'>): Promise<VerificationSettings> {
  return parseVerificationSettings(await settings.values([SETTING.validDays, SETTING.exemptCategories, SETTING.clearExpiredInKoha]));
}
