export {
  AddressStateStore,
  DEFAULT_SOFT_BOUNCE_POLICY,
  type AddressChange,
  type AddressState,
  type AddressStateRow,
  type BounceEffectKind,
  type BounceRecord,
  type SoftBouncePolicy,
} from './store';
export { gateWithAddressStates } from './gate';
