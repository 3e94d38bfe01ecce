/**
 * Identifiers the sidecar gives its messages outside its own tables. The
 * Message-ID header of an e-mail is chosen before the first send attempt and
 * kept on the message, so replies and bounces can be matched to it later.
 */
import { randomBytes } from 'node:crypto';

/** A domain name as it may stand in a header: dotted labels of letters, digits and hyphens, nothing else. */
const HOST_NAME = /^(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/i;

/**
 * A Message-ID for message `id` sent from `from`: `<kmc.<id>.<random>@<domain>>`,
 * with the sender's domain, or `kmc.invalid` when the sender has none that is a
 * plain host name (a line break or anything else there never reaches the header).
 */
export function messageIdFor(id: number, from: string): string {
  // Only a sender that is one plain address lends its domain: no blank, control character or second @ anywhere in it.
  // A named sender (`Branch Name <address>`) lends the domain of the address inside the brackets.
  const inner = /^[^<>]*<([^<>]*)>$/.exec(from.trim())?.[1] ?? from;
  const plain = /^[^\s@<>()",;:\\]+@([^\s@]+)$/.exec(inner);
  const given = plain?.[1] ?? '';
  const domain = given.length <= 253 && HOST_NAME.test(given) ? given.toLowerCase() : 'kmc.invalid';
  return `<kmc.${id}.${randomBytes(6).toString('hex')}@${domain}>`;
}
