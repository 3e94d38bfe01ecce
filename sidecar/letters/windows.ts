/**
 * Where a letter's parts sit on an A4 sheet so that the patron's address
 * shows through the window of the envelope the library uses. All figures are
 * millimetres from the sheet's left and top edges.
 */

export interface WindowLayout {
  /** A short name for logs and tests. */
  name: 'din5008b' | 'nordic';
  /** Left edge of the text column (branch block, subject, body). */
  marginLeftMm: number;
  /** Right edge of the text column, measured from the sheet's right edge. */
  marginRightMm: number;
  /** Top of the sender branch block. */
  senderTopMm: number;
  /** Lowest the sender block may reach, so that it never shows in the window. */
  senderBottomMm: number;
  /** Top of the date line (right-aligned at the right margin). */
  dateTopMm: number;
  /** One line naming the sender above the address, inside the window; null where the convention has none. */
  returnLine: { leftMm: number; topMm: number; heightMm: number } | null;
  /** Where the patron's address is written: its first line's top-left corner, and how much room it has. */
  address: { leftMm: number; topMm: number; widthMm: number; heightMm: number };
  /** Top of the subject line on the first page. */
  subjectTopMm: number;
  /** Short marks in the left margin where the sheet is folded (and punched), if the convention has them. */
  foldMarksMm: number[];
}

/**
 * DIN 5008, form B ("tiefgestelltes Anschriftfeld"), German business letters.
 * - The address field is 85 mm wide and 45 mm high; its top-left corner is
 *   20 mm from the sheet's left edge and 45 mm from its top (form B; form A
 *   would be 27 mm). Sources: the norm as summarised on helmol.de and
 *   korrespondenz-din-5008.de, and the same figures in the typst "letter-pro"
 *   DIN 5008 template (a 45 mm header, a 20 mm inset, an 85 x 45 mm box).
 * - The field is split into a 17.7 mm zone at the top (five lines: one for the
 *   return address, then notes such as "Einschreiben") and a 27.3 mm address
 *   zone of six lines below it, so the patron's name starts 62.7 mm from the
 *   top. The return line takes the first 5 mm of the upper zone.
 * - Text inside the field starts at the letter's flush line, 25 mm from the
 *   left edge, 5 mm inside the field (the same sources).
 * - Fold marks at 105 mm and 210 mm (form B thirds) and a punch mark at 148.5 mm.
 * - The information block (where the date goes) starts 50 mm from the top in
 *   form B, on the right; the text column keeps 25 mm left and 20 mm right.
 */
export const DIN_5008_B: WindowLayout = {
  name: 'din5008b',
  marginLeftMm: 25,
  marginRightMm: 20,
  senderTopMm: 12,
  senderBottomMm: 43,
  dateTopMm: 50,
  returnLine: { leftMm: 25, topMm: 45, heightMm: 5 },
  address: { leftMm: 25, topMm: 62.7, widthMm: 80, heightMm: 27.3 },
  // The address field ends at 90 mm; the subject follows after about two blank lines.
  subjectTopMm: 98.5,
  foldMarksMm: [105, 148.5, 210],
};

/**
 * The Nordic window envelopes (Sweden, Denmark, Norway, Finland): the window
 * sits on the left. Figures from a Norwegian template maker's survey of the
 * common window envelopes (officeconsult.no, "plassering av mottakerfelt i
 * vinduskonvolutter"): the window starts 15 mm from the left in nearly all of
 * them; its top is 44 mm down on a C5 envelope (window 35 x 105 mm), 39 mm on
 * C6/5 (35 x 100 mm, the DL-sized one), 40 mm on E6/5 (30 x 95 mm). The place
 * every one of them shows is therefore from 44 mm to about 70 mm down and from
 * 15 mm to 110 mm across; the address is written from 45 mm down and 20 mm
 * across (a few millimetres inside the window's edge, so a sheet that slides
 * in the envelope still shows it whole).
 *
 * Sources disagree: Swedish envelope makers also sell right-hand windows (the
 * "H2" placing of a Swedish standard) and Swedish print services stamp the
 * address top right. We found no published figures for that placing, while
 * the left-hand figures above are published per envelope size and agree with
 * the Danish and Norwegian practice, so the left-hand window is the Nordic
 * default. A library with right-hand windows needs a new row in this table.
 */
export const NORDIC_WINDOW: WindowLayout = {
  name: 'nordic',
  marginLeftMm: 20,
  marginRightMm: 20,
  senderTopMm: 12,
  senderBottomMm: 38,
  dateTopMm: 12,
  returnLine: null,
  address: { leftMm: 20, topMm: 45, widthMm: 90, heightMm: 25 },
  // Below the lowest window edge (79 mm on C5) with a little room to spare.
  subjectTopMm: 90,
  foldMarksMm: [],
};

/** Window placing by the library's country (ISO 3166 alpha-2, lower case). */
export const WINDOW_LAYOUTS: Readonly<Record<string, WindowLayout>> = {
  de: DIN_5008_B,
  at: DIN_5008_B,
  ch: DIN_5008_B,
  se: NORDIC_WINDOW,
  dk: NORDIC_WINDOW,
  no: NORDIC_WINDOW,
  fi: NORDIC_WINDOW,
};

/** The layout for a country code (`DE`, `se`, ...); any other country, or none, gets the Nordic/DL one. */
export function windowLayoutFor(country: string | null | undefined): WindowLayout {
  const code = (country ?? '').trim().toLowerCase();
  return Object.hasOwn(WINDOW_LAYOUTS, code) ? WINDOW_LAYOUTS[code] : NORDIC_WINDOW;
}
