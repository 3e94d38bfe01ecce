// Settings: read and checked once at start.
export { loadSettings, redact, type DeliverySettings, type LogLevel, type Settings, type SmsSettings } from './settings';
