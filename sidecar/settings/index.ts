/** Settings staff change on the pages (kmc_settings), read by the capabilities that use them. */
export { SettingsStore, type SettingsReader } from './store';
