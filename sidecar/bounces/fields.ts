/** Reading "Name: value" fields, as mail headers and delivery-status reports are written. */

export interface Field {
  /** lower-case */
  name: string;
  value: string;
}

const FIELD_LINE = /^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$/;

/** Fields of a block of lines, continuation lines folded in. Lines that are not fields end nothing: they are skipped. */
export function readFields(text: string): Field[] {
  const fields: Field[] = [];
  for (const line of text.split(/\r?\n/)) {
    const last = fields.at(-1);
    if (/^[ \t]+\S/.test(line) && last) {
      last.value = `${last.value} ${line.trim()}`;
      continue;
    }
    const m = FIELD_LINE.exec(line);
    if (m) fields.push({ name: m[1].toLowerCase(), value: m[2].trim() });
  }
  return fields;
}

/** The header block at the top of a message: fields up to the first empty line. */
export function headerBlock(message: string): string {
  const end = message.search(/\r?\n\r?\n/);
  return end < 0 ? message : message.slice(0, end);
}

export function firstField(fields: readonly Field[], name: string): string | null {
  return fields.find((f) => f.name === name)?.value ?? null;
}

const ADDRESS = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/;

/** The first e-mail address in a text, lower-case, without brackets or a trailing dot. */
export function firstAddress(text: string | null | undefined): string | null {
  if (!text) return null;
  const m = ADDRESS.exec(text);
  return m ? m[0].replace(/\.+$/, '').toLowerCase() : null;
}

/** Squash white space and bound the length, so a server's words fit in a history line. */
export function tidy(text: string | null | undefined, max = 500): string | null {
  if (!text) return null;
  const squashed = text.replace(/\s+/g, ' ').trim();
  if (!squashed) return null;
  return squashed.length > max ? `${squashed.slice(0, max - 1)}…` : squashed;
}
