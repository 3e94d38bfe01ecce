/** RFC 3464 delivery status reports: the per-recipient fields, read from the report part or from text that holds them. */
import { firstAddress, readFields, type Field } from './fields';

export interface RecipientStatus {
  finalRecipient: string | null;
  originalRecipient: string | null;
  /** failed, delayed, delivered, relayed, expanded (lower-case, as written) */
  action: string | null;
  /** 5.1.1 and the like */
  status: string | null;
  /** Words some servers write after the code, as "5.2.1 (mailbox disabled)". */
  statusWords: string | null;
  diagnostic: string | null;
  remoteMta: string | null;
}

const PER_RECIPIENT = new Set(['final-recipient', 'original-recipient', 'action', 'status', 'diagnostic-code', 'remote-mta']);
/** Fields that appear once per recipient: seeing one again starts the next recipient. */
const OPENS_AGAIN = new Set(['final-recipient', 'original-recipient', 'action', 'status']);

export const STATUS_CODE = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)/;

function statusOf(value: string): string | null {
  const m = STATUS_CODE.exec(value);
  return m ? `${m[1]}.${m[2]}.${m[3]}` : null;
}

/** Strip the type word ("rfc822;", "smtp;", "dns;") that starts these fields. */
function typed(value: string): string {
  return value.replace(/^[A-Za-z0-9-]+[ \t]*;[ \t]*/, '').trim();
}

function toStatus(fields: readonly Field[]): RecipientStatus {
  const get = (name: string) => fields.find((f) => f.name === name)?.value ?? null;
  const final = get('final-recipient');
  const original = get('original-recipient');
  const action = get('action');
  const status = get('status');
  const diagnostic = get('diagnostic-code');
  const remote = get('remote-mta');
  return {
    finalRecipient: final === null ? null : firstAddress(typed(final)),
    originalRecipient: original === null ? null : firstAddress(typed(original)),
    action: action === null ? null : (/^[a-z]+/i.exec(action.trim())?.[0].toLowerCase() ?? null),
    status: status === null ? null : statusOf(status),
    statusWords: status === null ? null : (/\(([^)]+)\)/.exec(status)?.[1] ?? null),
    diagnostic: diagnostic === null ? null : typed(diagnostic) || null,
    remoteMta: remote === null ? null : typed(remote) || null,
  };
}

/** The recipients a report names, in its order; empty when the text holds no per-recipient fields. */
export function readDeliveryStatus(text: string): RecipientStatus[] {
  const groups: Field[][] = [];
  for (const block of text.split(/\r?\n[ \t]*\r?\n/)) {
    let group: Field[] = [];
    for (const field of readFields(block)) {
      if (!PER_RECIPIENT.has(field.name)) continue;
      if (OPENS_AGAIN.has(field.name) && group.some((f) => f.name === field.name)) {
        groups.push(group);
        group = [];
      }
      group.push(field);
    }
    if (group.length) groups.push(group);
  }
  return groups
    .filter((g) => g.some((f) => f.name === 'final-recipient' || f.name === 'original-recipient' || f.name === 'status'))
    .map(toStatus);
}
