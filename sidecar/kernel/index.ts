export { systemClock, type Clock } from './clock';
export { addDays, daysBetween, libraryDay } from './days';
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
