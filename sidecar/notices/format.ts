/**
 * Amounts as the library shows them: Koha's CurrencyFormat preference for
 * the digits (US 1,234.56; FR 1 234,56; CH 1'234.56) and the active
 * currency (Koha's currency table, else the sidecar's own setting) after them.
 */
export type CurrencyFormat = 'US' | 'FR' | 'CH';

export interface MoneyStyle {
  format: CurrencyFormat;
  /** What follows the number: the currency symbol or code; empty for none. */
  unit: string;
}

export function asCurrencyFormat(value: string | null | undefined): CurrencyFormat {
  return value === 'FR' || value === 'CH' ? value : 'US';
}

export function formatMoney(amount: number, style: MoneyStyle): string {
  const negative = amount < 0;
  const [whole, cents] = Math.abs(amount).toFixed(2).split('.');
  const group = style.format === 'FR' ? ' ' : style.format === 'CH' ? "'" : ',';
  const decimal = style.format === 'FR' ? ',' : '.';
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  const number = `${negative ? '-' : ''}${grouped}${decimal}${cents}`;
  return style.unit ? `${number} ${style.unit}` : number;
}
