import { expect } from 'chai';
import { loadSettings } from '../../sidecar/config';
import { SettingsError } from '../../sidecar/errors';

/** The error loadSettings refuses these settings with; fails the test when they are accepted. */
export function settingsRefusal(env: Record<string, string>): SettingsError {
  try {
    loadSettings(env);
  } catch (err) {
    expect(err).to.be.instanceOf(SettingsError);
    return err as SettingsError;
  }
  throw new Error('the settings were accepted');
}
