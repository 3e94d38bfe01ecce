/**
 * Rendering: notice templates (shipped and staff-edited), the safety check
 * every template passes, and the Koha date and amount formats.
 */
export {
  NoticeRenderer,
  NOTICE_TEMPLATE_DIR,
  LIBRARY_DEFAULT_LANG,
  languageCandidates,
  htmlFromText,
  type RenderedNotice,
} from './notices';
export { escapeHtml } from './html';
export { emailDocument, styleBareTags } from './email-layout';
export { fitSmsToOnePart, shortenTitle, SMS_TITLE_MIN_CHARS } from './sms-fit';
export { RENDER_BUDGET, RenderBudgetExceeded } from './render-budget';
export {
  checkNoticeTemplate,
  renderNoticeTemplate,
  noticeEnvironmentSummary,
  NoticeData,
  NOTICE_TEMPLATE_FILTERS,
  NOTICE_TEMPLATE_TESTS,
  type RenderNoticeOptions,
} from './safety';
export {
  toPlainData,
  isPlainRecord,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_VALUES,
  type PlainData,
  type PlainRecord,
  type PlainDataLimits,
} from './plain-data';
export {
  asKohaDateFormat,
  asKohaTimeFormat,
  formatKohaDate,
  formatKohaTime,
  formatAmount,
  libraryDay,
  addDays,
  daysBetween,
  type KohaDateFormat,
  type KohaTimeFormat,
} from './dates';
export {
  TemplateStore,
  type TemplateKey,
  type EditedTemplate,
  type EditedTemplateSummary,
  type TemplateEdit,
  type TemplateImportState,
  type ImportWrite,
} from './template-store';
