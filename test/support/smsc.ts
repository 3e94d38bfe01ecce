/**
 * The SMSC the tests talk to: the product's capture SMSC (sidecar/demo), a
 * real SMPP server over loopback with knobs to misbehave.
 */
export {
  CaptureSmsc as TestSmsc,
  TEST_TLS_KEY,
  TEST_TLS_CERT,
  type CaptureSmscOptions as TestSmscOptions,
  type SmscBindMode,
  type RecordedBind,
  type RecordedSubmit,
  type ReceivedSms,
  type ReceiptRequest,
} from '../../sidecar/demo/capture-smsc';
