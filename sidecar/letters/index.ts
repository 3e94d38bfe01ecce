export { renderLettersPdf, type Letter, type LettersPdfOptions } from './render';
export { LetterPdfThread } from './pdf-thread';
export { DEFAULT_FONT_DIR, FONT_PACKAGE, findLetterFonts, type LetterFonts } from './fonts';
export { DIN_5008_B, NORDIC_WINDOW, WINDOW_LAYOUTS, windowLayoutFor, type WindowLayout } from './windows';
export {
  LETTER_LANGUAGES,
  LETTER_TEXTS,
  LETTER_TEXT_KEYS,
  letterLanguage,
  letterText,
  type LetterLanguage,
  type LetterTextKey,
} from './texts';
export { graphemes, paginate, wrapText } from './layout';
export { lettersOfMessages, type MessageLetterDeps } from './from-messages';
