// Settings: read and checked once at start.
export {
  SECRET_MIN_BYTES,
  loadSettings,
  redact,
  type BounceSettings,
  type DeliverySettings,
  type LogLevel,
  type Settings,
  type SmsSettings,
} from './settings';
