/**
 * Types for the parts of the `smpp` package (0.5.x) this channel uses. The
 * package ships without types; only what we call is described here.
 */
declare module 'smpp' {
  import { EventEmitter } from 'events';
  import * as net from 'net';

  export class PDU {
    constructor(command: string, options?: Record<string, unknown>);
    command: string;
    command_id: number;
    command_status: number;
    command_length: number;
    sequence_number: number;
    isResponse(): boolean;
    response(options?: Record<string, unknown>): PDU;
    toBuffer(): Buffer;
    /** Mandatory parameters and TLVs, by their SMPP names. */
    [field: string]: unknown;
  }

  export interface ConnectOptions {
    host?: string;
    port?: number;
    tls?: boolean;
    ca?: string | Buffer | Array<string | Buffer>;
    rejectUnauthorized?: boolean;
    servername?: string;
    /** Passed to the socket: false leaves Nagle's algorithm on. */
    noDelay?: boolean;
    auto_enquire_link_period?: number;
  }

  export class Session extends EventEmitter {
    socket: net.Socket;
    server?: Server;
    /** Returns false when the socket is no longer writable (nothing was sent). */
    send(pdu: PDU, responseCallback?: (pdu: PDU) => void, sendCallback?: (pdu: PDU) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
  }

  export interface ServerOptions {
    key?: string | Buffer;
    cert?: string | Buffer;
  }

  export class Server extends net.Server {
    sessions: Session[];
  }

  export function createServer(options: ServerOptions, listener?: (session: Session) => void): Server;
  export function createServer(listener?: (session: Session) => void): Server;
  export function connect(options: ConnectOptions, listener?: () => void): Session;

  /** The package calls its filters with the PDU as `this`, never with the filter object. */
  export interface MessageFilter {
    encode: (this: PDU, value: unknown) => unknown;
    decode: (this: PDU, value: unknown, skipUdh?: unknown) => unknown;
  }

  export const filters: { message: MessageFilter };
  export const errors: Record<string, number>;
}
