// Settings: read and checked once at start.
export { dkimKeyFor, dkimKeyOf, dkimRecordText, domainOfAddress } from './mail';
export {
  SECRET_MIN_BYTES,
  loadSettings,
  redact,
  type BounceSettings,
  type DeliverySettings,
  type DkimKey,
  type DomainLimit,
  type LogLevel,
  type SendingLimits,
  type Settings,
  type SmsSettings,
} from './settings';
