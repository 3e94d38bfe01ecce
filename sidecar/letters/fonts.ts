/**
 * The letters' typeface: DejaVu Sans from Debian's fonts-dejavu-core, found
 * on disk when letters are written. It covers Latin (Ł ś Ő Ŋ ...), Greek and
 * Cyrillic, so any patron's name prints; only the glyphs a file uses are
 * embedded in it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SettingsError } from '../errors';

/** Where Debian's fonts-dejavu-core puts the fonts. */
export const DEFAULT_FONT_DIR = '/usr/share/fonts/truetype/dejavu';
export const FONT_PACKAGE = 'fonts-dejavu-core';
const REGULAR = 'DejaVuSans.ttf';
const BOLD = 'DejaVuSans-Bold.ttf';

export interface LetterFonts {
  regular: string;
  bold: string;
}

/** The two font files in `dir`, or a settings error that says which package to install. */
export function findLetterFonts(dir: string = DEFAULT_FONT_DIR): LetterFonts {
  const fonts = { regular: join(dir, REGULAR), bold: join(dir, BOLD) };
  const missing = [fonts.regular, fonts.bold].filter((file) => !existsSync(file));
  if (missing.length) {
    throw new SettingsError(
      'letters.fontDir',
      `the letter font is missing (${missing.join(', ')}); install Debian's package ${FONT_PACKAGE} ` +
        `(apt-get install ${FONT_PACKAGE}) or point fontDir at a folder holding ${REGULAR} and ${BOLD}`,
    );
  }
  return fonts;
}
