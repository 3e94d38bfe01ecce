// The language catalogues and the translator.
export {
  PAGE_LANGS,
  catalogue,
  isMessageKey,
  isPageLang,
  pickPageLang,
  translator,
  type MessageKey,
  type PageLang,
  type Translate,
} from './translate';
