/**
 * The frame every e-mail's HTML part goes out in. Mail programs (Outlook's
 * Word engine above all) drop <style> blocks and ignore most CSS layout, so
 * the frame is tables with inline styles, at most 600 pixels wide, and the
 * plain tags a template writes (<table>, <th>, <td>, <p>) get their styles
 * inline here: templates stay short and staff need not know any CSS.
 */
import { escapeHtml } from './html';
import { rewriteTemplateText } from './safety';

const FONT = 'font-family: Arial, Helvetica, sans-serif; font-size: 15px; line-height: 1.5; color: #222222';

/** Inline styles for the bare tags of a notice body; a tag that already has attributes is left as written. */
const BARE_TAG_STYLES: ReadonlyArray<[RegExp, string]> = [
  [
    /<table>/g,
    '<table role="table" cellpadding="0" cellspacing="0" border="0" style="border-collapse: collapse; width: 100%; margin: 12px 0">',
  ],
  [
    /<th>/g,
    '<th align="left" style="' +
      FONT +
      '; font-weight: bold; text-align: left; padding: 6px 8px; border-bottom: 2px solid #cccccc; background: #f4f4f4">',
  ],
  [/<td>/g, '<td valign="top" style="' + FONT + '; padding: 6px 8px; border-bottom: 1px solid #e2e2e2">'],
  [/<p>/g, '<p style="' + FONT + '; margin: 0 0 12px 0">'],
  [/<ul>/g, '<ul style="' + FONT + '; margin: 0 0 12px 0">'],
];

/** Any bare tag BARE_TAG_STYLES styles. */
const ANY_BARE_TAG = /<(?:table|th|td|p|ul)>/;

export function styleBareTags(body: string): string {
  // Bodies rendered from a template styled beforehand (styleTemplate) have none left.
  if (!ANY_BARE_TAG.test(body)) return body;
  let out = body;
  for (const [tag, styled] of BARE_TAG_STYLES) out = out.replace(tag, styled);
  return out;
}

/**
 * An HTML template with the bare tags of its own text styled, so each
 * message rendered from it needs no pass of its own (the tags it prints are
 * the same). Null when there is nothing to style or it cannot be read.
 */
export function styleTemplate(source: string): string | null {
  if (!ANY_BARE_TAG.test(source)) return null;
  const styled = rewriteTemplateText(source, styleBareTags);
  return styled === source ? null : styled;
}

const FRAME_TOP = [
  '">',
  '<head>',
  '<meta charset="utf-8">',
  '<meta name="viewport" content="width=device-width, initial-scale=1">',
  '<title>',
].join('\n');
const FRAME_MIDDLE = [
  '</title>',
  '</head>',
  '<body style="margin: 0; padding: 0; background: #f2f2f2">',
  '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background: #f2f2f2">',
  '<tr><td align="center" style="padding: 16px 8px">',
  '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" style="width: 100%; max-width: 600px; background: #ffffff; border: 1px solid #dddddd">',
  `<tr><td style="${FONT}; padding: 24px">`,
  '',
].join('\n');
const FRAME_BOTTOM = ['', '</td></tr>', '</table>', '</td></tr>', '</table>', '</body>', '</html>', ''].join('\n');
const LANG_TAG = /^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$/;

/** A whole HTML document around a notice body: one centred column, readable without images or CSS support. */
export function emailDocument(body: string, opts: { lang: string; title: string }): string {
  const lang = LANG_TAG.test(opts.lang) ? opts.lang : 'en';
  return `<!DOCTYPE html>\n<html lang="${lang}${FRAME_TOP}${escapeHtml(opts.title)}${FRAME_MIDDLE}${styleBareTags(body.trim())}${FRAME_BOTTOM}`;
}
