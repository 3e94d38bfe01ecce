// Printed letters.
export { PrintAdapter } from './adapter';
