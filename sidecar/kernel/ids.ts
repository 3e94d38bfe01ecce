/**
 * Identifiers the sidecar gives its messages outside its own tables. The
 * Message-ID header of an e-mail is chosen before the first send attempt and
 * kept on the message, so replies and bounces can be matched to it later.
 */
import { randomBytes } from 'node:crypto';

/**
 * A Message-ID for message `id` sent from `from`: `<kmc.<id>.<random>@<domain>>`,
 * with the sender's domain (or `kmc.invalid` when the sender has none).
 */
export function messageIdFor(id: number, from: string): string {
  const domain = from.includes('@') ? from.slice(from.lastIndexOf('@') + 1) : 'kmc.invalid';
  return `<kmc.${id}.${randomBytes(6).toString('hex')}@${domain}>`;
}
