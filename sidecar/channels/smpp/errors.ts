import { KmcError } from '../../errors';

/**
 * Whether the SMSC may have received the PDU that failed: 'no' means it is
 * safe to submit again; 'unknown' means a retry may duplicate the message.
 */
export type SmppReach = 'no' | 'unknown';

export type SmppErrorCode =
  | 'SMPP_NOT_CONNECTED'
  | 'SMPP_STOPPED'
  | 'SMPP_BUSY'
  | 'SMPP_THROTTLED'
  | 'SMPP_TIMEOUT'
  | 'SMPP_CONNECTION_LOST'
  | 'SMPP_BIND_REJECTED'
  | 'SMPP_CONNECT_FAILED'
  | 'SMPP_TLS_FAILED';

/** A transport or session problem of the SMPP client, with a stable code. */
export class SmppError extends KmcError {
  override readonly code: SmppErrorCode;
  readonly reached: SmppReach;
  /** True when trying again will not help without a change of settings. */
  readonly permanent: boolean;
  constructor(
    code: SmppErrorCode,
    message: string,
    opts: { reached?: SmppReach; permanent?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, opts.details ?? {});
    this.name = 'SmppError';
    this.code = code;
    this.reached = opts.reached ?? 'no';
    this.permanent = opts.permanent ?? false;
  }
}
