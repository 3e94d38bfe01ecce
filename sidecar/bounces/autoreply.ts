/** RFC 3834 automatic answers and the usual out-of-office forms, told apart from bounces by their headers and subject. */
import { firstField, type Field } from './fields';

/** Subjects of out-of-office answers in the languages libraries' patrons write in. */
const AUTOREPLY_SUBJECT =
  /^\s*(\[?auto(matic|matische|matisk|matikus|matico|matique)?[ -]?(reply|response|answer|antwort|svar|vastaus|risposta|respuesta|réponse|reponse|odpowiedź)\]?|auto ?(reply|response)|out of (the )?office|abwesenheit(snotiz)?|abwesend|autosvar|fr[åa]nvar(o|ande)|frav[æa]r|poissa|ferie|vacation|on vacation|away from (the )?office|absence|absent|r[ée]ponse automatique|risposta automatica|respuesta autom[áa]tica|afwezig|automatisch antwoord|niet aanwezig|urlaub|congé|自動応答|自動返信)/i;

/** What marks a message as an automatic answer to a person's mail (not a report from a mail server). */
export function isAutoReply(headers: readonly Field[], subject: string): boolean {
  const autoSubmitted = firstField(headers, 'auto-submitted')?.toLowerCase() ?? '';
  if (autoSubmitted.startsWith('auto-replied')) return true;
  if (headers.some((f) => ['x-autoreply', 'x-autorespond', 'x-autoresponder', 'x-auto-reply', 'x-vacation'].includes(f.name))) return true;
  const precedence = firstField(headers, 'precedence')?.toLowerCase() ?? '';
  if (precedence.includes('auto_reply') || precedence.includes('auto-reply')) return true;
  if ((firstField(headers, 'x-apple-action') ?? '').toUpperCase() === 'VACATION') return true;
  return AUTOREPLY_SUBJECT.test(subject);
}
