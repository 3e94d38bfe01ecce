/**
 * The e-mail gate the notices ask, with bounces in it: an undeliverable
 * address is treated like a missing one, whatever verification says; a
 * complained one is said so (the notice decides whether it may skip e-mail);
 * otherwise the verification gate answers.
 */
import type { EmailGate, EmailGateState } from '../queue';
import type { AddressStateStore } from './store';

export function gateWithAddressStates(verification: EmailGate | undefined, states: Pick<AddressStateStore, 'check'>): EmailGate {
  return {
    async check(patrons) {
      const [verified, bounced] = await Promise.all([
        verification ? verification.check(patrons) : new Map<number, EmailGateState>(),
        states.check(patrons),
      ]);
      const out = new Map<number, EmailGateState>(verified);
      for (const [borrowernumber, state] of bounced) {
        if (state === 'undeliverable' || !out.has(borrowernumber)) out.set(borrowernumber, state);
      }
      return out;
    },
  };
}
