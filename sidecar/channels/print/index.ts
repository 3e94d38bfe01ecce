// Printed letters: the print folder, one PDF per run and branch a day.
export { PrintAdapter, type PrintAdapterOptions, type RenderLetters } from './adapter';
