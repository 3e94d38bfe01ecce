// Addresses the library sends from: the check, and the sender, reply-to and return path in force.
export {
  ADDRESS_PROBLEM_TEXT,
  checkAddress,
  checkSender,
  type AddressCheck,
  type AddressCheckOptions,
  type AddressProblem,
  type SenderCheck,
} from './check';
export {
  SENDER_PREFERENCES,
  addressInForce,
  branchAddresses,
  senderCandidates,
  type AddressCandidate,
  type AddressInForce,
  type AddressRole,
  type AddressSourceKind,
  type BranchAddresses,
  type RefusedAddress,
  type SenderSources,
} from './senders';
