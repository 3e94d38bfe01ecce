/**
 * The words of the public verification page, in the languages the notices
 * ship in. Short and plain; never a name or an address.
 */
import { languageCandidates } from '../rendering';

export interface PageTexts {
  lang: string;
  title: string;
  confirm: string;
  button: string;
  verified: string;
  expired: string;
  used: string;
  invalid: string;
  tooMany: string;
}

export const PAGE_TEXTS: Record<string, PageTexts> = {
  en: {
    lang: 'en',
    title: 'Confirm your e-mail address',
    confirm: 'Press the button to confirm that this e-mail address may be used for messages from the library.',
    button: 'Confirm my e-mail address',
    verified: 'Thank you. Your e-mail address is confirmed.',
    expired: 'This link has expired. Ask the library for a new one.',
    used: 'This link has already been used. Your e-mail address is confirmed.',
    invalid: 'This link is not valid. Check that it was copied whole, or use the newest link the library sent you.',
    tooMany: 'Too many attempts. Please wait a few minutes and try again.',
  },
  sv: {
    lang: 'sv',
    title: 'Bekräfta din e-postadress',
    confirm: 'Tryck på knappen för att bekräfta att biblioteket får skicka meddelanden till den här e-postadressen.',
    button: 'Bekräfta min e-postadress',
    verified: 'Tack. Din e-postadress är bekräftad.',
    expired: 'Länken har gått ut. Be biblioteket om en ny.',
    used: 'Länken har redan använts. Din e-postadress är bekräftad.',
    invalid: 'Länken är inte giltig. Kontrollera att hela länken kom med, eller använd den senaste länken biblioteket skickade.',
    tooMany: 'För många försök. Vänta några minuter och försök igen.',
  },
  da: {
    lang: 'da',
    title: 'Bekræft din e-mailadresse',
    confirm: 'Tryk på knappen for at bekræfte, at biblioteket må sende beskeder til denne e-mailadresse.',
    button: 'Bekræft min e-mailadresse',
    verified: 'Tak. Din e-mailadresse er bekræftet.',
    expired: 'Linket er udløbet. Bed biblioteket om et nyt.',
    used: 'Linket er allerede brugt. Din e-mailadresse er bekræftet.',
    invalid: 'Linket er ikke gyldigt. Kontrollér, at hele linket kom med, eller brug det nyeste link, biblioteket har sendt.',
    tooMany: 'For mange forsøg. Vent et par minutter, og prøv igen.',
  },
  de: {
    lang: 'de',
    title: 'E-Mail-Adresse bestätigen',
    confirm: 'Bitte bestätigen Sie mit der Schaltfläche, dass die Bibliothek Nachrichten an diese E-Mail-Adresse senden darf.',
    button: 'E-Mail-Adresse bestätigen',
    verified: 'Vielen Dank. Ihre E-Mail-Adresse ist bestätigt.',
    expired: 'Dieser Link ist abgelaufen. Bitte fragen Sie die Bibliothek nach einem neuen.',
    used: 'Dieser Link wurde bereits verwendet. Ihre E-Mail-Adresse ist bestätigt.',
    invalid:
      'Dieser Link ist nicht gültig. Bitte prüfen Sie, ob er vollständig kopiert wurde, oder verwenden Sie den neuesten Link der Bibliothek.',
    tooMany: 'Zu viele Versuche. Bitte warten Sie einige Minuten und versuchen Sie es dann erneut.',
  },
};

/** The languages the page has texts in. */
export const PAGE_LANGS: readonly string[] = Object.keys(PAGE_TEXTS);

/** The page's language: the first of the given ones it has texts in (the mail's once the link worked, then the browser's), else English. */
export function pageTexts(...langs: Array<string | null | undefined>): PageTexts {
  for (const code of languageCandidates(...langs)) {
    const key = code.toLowerCase();
    if (Object.hasOwn(PAGE_TEXTS, key)) return PAGE_TEXTS[key];
  }
  return PAGE_TEXTS.en;
}
