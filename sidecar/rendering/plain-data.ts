/**
 * Turns whatever the notice pipeline collected (database rows, computed
 * values) into plain data before a staff-edited template sees it.
 *
 * Nunjucks will happily call a function it finds in the data, or walk from a
 * value to its prototype and on to `Function`. Plain data gives a template
 * nothing to call and no prototype to climb: objects are re-created with a
 * null prototype, and only strings, numbers, booleans, null and arrays of them
 * survive.
 *
 * What happens to everything else (decided, and relied on by the tests):
 * - `Date` becomes its ISO 8601 string; an invalid date becomes null.
 * - `bigint` becomes its decimal string (ids from the database can exceed
 *   2^53; a template only ever prints them).
 * - `NaN` and the infinities become null, as in JSON.
 * - Dropped silently, because they are not data: functions, symbols,
 *   `undefined`, getters and setters (never invoked), symbol keys, proxies
 *   (reading one runs its handler), instances of classes other than `Object`
 *   (Map, Set, RegExp, Buffer, Error, user classes: their data would arrive
 *   with methods attached), and the own key `__proto__`. A dropped object
 *   member disappears; a dropped array element becomes null so positions keep
 *   their meaning (`items[2]`, `loop.index`).
 * - Thrown, because they mean the data was built wrongly and a notice built
 *   from half of it would be wrong: a cycle (TypeError), nesting deeper than
 *   `maxDepth` or more than `maxValues` values in all (RangeError).
 */
import { types } from 'node:util';

export type PlainData = string | number | boolean | null | PlainData[] | PlainRecord;

/** An object with a null prototype: only its own keys can be looked up. */
export interface PlainRecord {
  [key: string]: PlainData;
}

export interface PlainDataLimits {
  /** How many levels of objects and arrays may nest. */
  maxDepth?: number;
  /** How many values may be copied in all (guards against huge or sparse arrays). */
  maxValues?: number;
}

export const DEFAULT_MAX_DEPTH = 32;
export const DEFAULT_MAX_VALUES = 200_000;

/** Marks a value that is not data and is left out of the copy. */
const DROPPED: unique symbol = Symbol('dropped');
type Copied = PlainData | typeof DROPPED;

/**
 * Deep-copies `value` into plain data (see the module comment for the rules).
 * A top-level value that is not data becomes null.
 */
export function toPlainData(value: unknown, limits: PlainDataLimits = {}): PlainData {
  const copier = new PlainDataCopier(limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxValues ?? DEFAULT_MAX_VALUES);
  const copied = copier.copy(value, 0);
  return copied === DROPPED ? null : copied;
}

/** True for the null-prototype objects `toPlainData` produces. */
export function isPlainRecord(value: unknown): value is PlainRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === null;
}

class PlainDataCopier {
  /** Objects on the path from the root to the current value: seeing one again is a cycle. */
  private readonly ancestors = new Set<object>();
  /** Keys and indexes from the root to the current value, for error messages only (put into words only then). */
  private readonly path: Array<string | number> = [];
  private copiedValues = 0;

  constructor(
    private readonly maxDepth: number,
    private readonly maxValues: number,
  ) {}

  copy(value: unknown, depth: number): Copied {
    this.count(1);
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        return Number.isFinite(value) ? value : null;
      case 'bigint':
        return value.toString();
      case 'undefined':
      case 'function':
      case 'symbol':
        return DROPPED;
      default:
        break;
    }
    if (value === null) return null;
    const object = value as object;
    // Checked first: every other test below would run a proxy's handler.
    if (types.isProxy(object)) return DROPPED;
    if (types.isDate(object)) {
      const time = Date.prototype.getTime.call(object);
      return Number.isNaN(time) ? null : new Date(time).toISOString();
    }
    const isArray = Array.isArray(object);
    if (!isArray) {
      const proto: unknown = Object.getPrototypeOf(object);
      if (proto !== Object.prototype && proto !== null) return DROPPED;
    }
    this.enter(object, depth);
    try {
      return isArray ? this.copyArray(object, depth) : this.copyRecord(object, depth);
    } finally {
      this.ancestors.delete(object);
    }
  }

  /** Before copying a nested object: refuses one too deep or seen on its own path (a cycle). */
  private enter(object: object, depth: number): void {
    if (depth >= this.maxDepth) {
      throw new RangeError(`notice data nests more than ${this.maxDepth} levels deep at ${this.where()}`);
    }
    if (this.ancestors.has(object)) {
      throw new TypeError(`notice data refers back to itself (a cycle) at ${this.where()}`);
    }
    this.ancestors.add(object);
  }

  private copyArray(source: unknown[], depth: number): PlainData[] {
    const length = source.length;
    // A sparse array can claim a huge length without holding anything, so
    // refuse before looping rather than after.
    if (this.copiedValues + length > this.maxValues) this.tooMany();
    const result: PlainData[] = [];
    for (let index = 0; index < length; index++) {
      // Read through the descriptor so an index defined as a getter is never invoked.
      const descriptor = Object.getOwnPropertyDescriptor(source, index);
      let copied: Copied = DROPPED;
      if (descriptor && 'value' in descriptor) {
        this.path.push(index);
        copied = this.copy(descriptor.value, depth + 1);
        this.path.pop();
      } else {
        this.count(1);
      }
      result.push(copied === DROPPED ? null : copied);
    }
    return result;
  }

  private copyRecord(source: object, depth: number): PlainRecord {
    const result = Object.create(null) as PlainRecord;
    for (const key of Object.keys(source)) {
      // Copying this key onto an ordinary object (nunjucks does that with the
      // top level) would replace that object's prototype.
      if (key === '__proto__') continue;
      const descriptor = Object.getOwnPropertyDescriptor(source, key);
      if (!descriptor || !('value' in descriptor)) continue;
      this.path.push(key);
      const copied = this.copy(descriptor.value, depth + 1);
      this.path.pop();
      if (copied !== DROPPED) result[key] = copied;
    }
    return result;
  }

  private count(values: number): void {
    this.copiedValues += values;
    if (this.copiedValues > this.maxValues) this.tooMany();
  }

  private tooMany(): never {
    throw new RangeError(`notice data holds more than ${this.maxValues} values (at ${this.where()})`);
  }

  private where(): string {
    if (this.path.length === 0) return 'the top level';
    return this.path
      .map((step) => (typeof step === 'number' ? `[${step}]` : `.${step}`))
      .join('')
      .replace(/^\./, '');
  }
}
