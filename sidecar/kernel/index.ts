export { systemClock, type Clock } from './clock';
export { addDays, dateFormat, daysBetween, libraryDay, libraryTime, runMoment } from './days';
export { messageIdFor } from './ids';
export { isE164, readSmsSender, type SmsSender, type SmsSenderForm, type SmsSenderReading } from './sms-sender';
export {
  CHANNELS,
  MESSAGE_STATUSES,
  MESSAGE_TYPES,
  OVERDUE_LEVELS,
  isChannel,
  isMessageType,
  type ChannelName,
  type MessageStatus,
  type MessageType,
} from './vocabulary';
