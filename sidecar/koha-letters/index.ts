export { convertKohaLetter, type ConversionResult, type ConversionStatus, type ConvertedTemplate } from './conversion';
export type { LetterFinding, LetterPart } from './convert';
export { letterLabel, type ConvertOptions, type ImportedNoticeType, type KohaLetterRow, type LetterTarget } from './letters';
export {
  planKohaLetterImport,
  placeKey,
  type ExistingTemplate,
  type KohaLetterImportPlan,
  type PlannedAction,
  type PlannedTemplate,
  type TemplatePlace,
} from './plan';
export { describeConversion, describeImportPlan } from './report';
export {
  importKohaLetters,
  KOHA_LETTER_CODES,
  type KohaLetterImportDeps,
  type KohaLetterImportOptions,
  type KohaLetterImportOutcome,
} from './import';
export { templatesCommand, TEMPLATES_USAGE } from './command';
