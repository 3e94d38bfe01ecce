// Contact data: which address or number a notice may use.
export {
  allowedChannels,
  chooseAllChannels,
  chooseChannel,
  isUsableEmail,
  patronEmail,
  patronMobile,
  postalAddress,
  toE164,
  workingChannels,
  type ChannelChoice,
} from './contact';
