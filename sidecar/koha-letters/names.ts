/**
 * Koha's names for what a letter shows, and the sidecar's names for the same.
 *
 * Koha's `<<table.column>>` placeholders name a table and a column
 * (`<<borrowers.firstname>>`, `<<issues.date_due>>`); its Template Toolkit
 * letters name objects (`borrower.firstname`, `checkout.date_due`,
 * `overdue.item.biblio.title`). The sidecar's notices are rendered from
 * plain data: `patron`, `branch`, `items` (each with title, author,
 * barcode, callnumber, due; for holds also pickup_by and waiting_since),
 * `level`, `fee_text`, `today`, and for holds `pickup_branch` and
 * `last_pickup_day`. Dates arrive formatted in the library's date format.
 */
import type { LetterTarget } from './letters';

/** What a Koha name became: a template expression, and what kind of value it is. */
export interface Resolved {
  expr: string;
  kind: 'value' | 'date' | 'list';
  /** Said in the report: the value is close to, not exactly, what Koha shows. */
  note?: string;
}

export interface Unresolved {
  problem: string;
}

export type Resolution = Resolved | Unresolved;

export function isResolved(r: Resolution): r is Resolved {
  return 'expr' in r;
}

/** Where a name is read: which letter, and whether inside the loop over its items. */
export interface NameScope {
  target: LetterTarget;
  /** Inside `<item>...</item>` or a Template Toolkit loop over the items. */
  inItemLoop: boolean;
  /** The Template Toolkit loop variable (`overdue` in FOREACH overdue IN overdues). */
  loopVar: string | null;
}

const PATRON_FIELDS: ReadonlyMap<string, string> = new Map([
  ['firstname', 'firstname'],
  ['surname', 'surname'],
  ['title', 'title'],
  ['cardnumber', 'cardnumber'],
  ['borrowernumber', 'borrowernumber'],
  ['email', 'email'],
]);

/** Address lines the sidecar prints as one block, `address`, on letters. */
const PATRON_ADDRESS_PARTS = new Set(['address2', 'city', 'zipcode', 'state', 'country', 'streetnumber', 'streettype']);

const BRANCH_FIELDS: ReadonlyMap<string, string> = new Map([
  ['branchname', 'name'],
  ['branchcode', 'code'],
  ['branchemail', 'email'],
  ['branchphone', 'phone'],
]);

const BRANCH_ADDRESS_PARTS = new Set(['branchaddress2', 'branchaddress3', 'branchzip', 'branchcity', 'branchstate', 'branchcountry']);

/** Item and loan columns (biblio, biblioitems, items, issues) the items of a notice carry. */
const ITEM_FIELDS: ReadonlyMap<string, { field: string; kind: Resolved['kind'] }> = new Map([
  ['title', { field: 'title', kind: 'value' }],
  ['author', { field: 'author', kind: 'value' }],
  ['barcode', { field: 'barcode', kind: 'value' }],
  ['itemcallnumber', { field: 'callnumber', kind: 'value' }],
  ['date_due', { field: 'due', kind: 'date' }],
]);

/** Hold columns (reserves) the items of a hold notice carry. */
const HOLD_FIELDS: ReadonlyMap<string, { field: string; kind: Resolved['kind'] }> = new Map([
  ['waitingdate', { field: 'waiting_since', kind: 'date' }],
  ['expirationdate', { field: 'pickup_by', kind: 'date' }],
]);

const ITEM_TABLES = new Set(['biblio', 'biblioitems', 'items', 'issues', 'reserves']);

/** Template Toolkit objects that stand for the letter's one item, loan or hold. */
const ITEM_OBJECTS = new Set(['biblio', 'biblioitem', 'item', 'checkout', 'issue', 'overdue', 'hold']);

/** Segments between an item-like object and its column: checkout.item.biblio.title is the title. */
const ITEM_HOPS = new Set(['item', 'biblio', 'biblioitem']);

const LOOP_MEMBERS: ReadonlyMap<string, string> = new Map([
  ['index', 'loop.index0'],
  ['count', 'loop.index'],
  ['number', 'loop.index'],
  ['first', 'loop.first'],
  ['last', 'loop.last'],
  ['size', 'loop.length'],
]);

const NOTE_ADDRESS =
  "the sidecar prints the patron's whole postal address in one place (on letters only): the street line stands for all of it";
const NOTE_ADDRESS_PART = "part of the patron's postal address, already printed where the street line was";
const NOTE_BRANCH_ADDRESS = "the branch's whole address is printed in one place: the first address line stands for all of it";
const NOTE_BRANCH_ADDRESS_PART = "part of the branch's address, already printed where its first line was";

function isHoldNotice(target: LetterTarget): boolean {
  return target.messageType === 'hold_waiting' || target.messageType === 'hold_reminder';
}

export function patronField(field: string): Resolution {
  const mapped = PATRON_FIELDS.get(field);
  if (mapped) return { expr: `patron.${mapped}`, kind: 'value' };
  if (field === 'address') return { expr: 'address', kind: 'value', note: NOTE_ADDRESS };
  if (PATRON_ADDRESS_PARTS.has(field)) return { expr: '', kind: 'value', note: NOTE_ADDRESS_PART };
  return { problem: `the sidecar's notices have no patron field "${field}"` };
}

export function branchField(field: string): Resolution {
  const mapped = BRANCH_FIELDS.get(field);
  if (mapped) return { expr: `branch.${mapped}`, kind: 'value' };
  if (field === 'branchaddress1') return { expr: 'branch.address', kind: 'value', note: NOTE_BRANCH_ADDRESS };
  if (BRANCH_ADDRESS_PARTS.has(field)) return { expr: '', kind: 'value', note: NOTE_BRANCH_ADDRESS_PART };
  return { problem: `the sidecar's notices have no branch field "${field}"` };
}

/**
 * An item, loan or hold column. Inside the item loop it is the loop item's;
 * outside, only a letter Koha sends about one item has one (its first item
 * here); anywhere else Koha itself leaves it empty.
 */
export function itemField(field: string, scope: NameScope): Resolution {
  const { target } = scope;
  if (target.messageType === 'welcome') return { problem: 'a welcome notice is about no item' };
  if (field === 'fine') {
    return { problem: 'the sidecar keeps no fine per item; the fee of the whole notice is {{ fee_text }}' };
  }
  if (isHoldNotice(target)) {
    if (field === 'branchcode') return { expr: 'branch.code', kind: 'value' };
    if (field === 'expirationdate' && !scope.inItemLoop) return { expr: 'last_pickup_day', kind: 'date' };
  }
  const known = ITEM_FIELDS.get(field) ?? (isHoldNotice(target) ? HOLD_FIELDS.get(field) : undefined);
  if (!known) return { problem: `the sidecar's ${target.messageType} notices have no item field "${field}"` };
  if (scope.inItemLoop) return { expr: `item.${known.field}`, kind: known.kind };
  if (!target.singleItem) {
    return { problem: `outside the list of items this letter has no single item, so Koha leaves "${field}" empty too` };
  }
  return { expr: `items[0].${known.field}`, kind: known.kind };
}

/** A `<<...>>` placeholder (without Koha's `| dateonly`), as Koha's letter code fills it. */
export function resolvePlaceholder(name: string, scope: NameScope): Resolution {
  if (name === 'today') return { expr: 'today', kind: 'date' };
  if (name === 'count') {
    if (scope.target.lists.length === 0) return { problem: 'a welcome notice has no items to count' };
    return { expr: 'items | length', kind: 'value' };
  }
  const dot = name.indexOf('.');
  if (dot < 0) return resolveBareColumn(name, scope);
  const table = name.slice(0, dot);
  const column = name.slice(dot + 1);
  if (table === 'borrowers') return patronField(column);
  if (table === 'branches') return branchField(column);
  if (ITEM_TABLES.has(table)) {
    if (table === 'reserves' && !isHoldNotice(scope.target)) {
      return { problem: 'only hold notices have hold data (reserves)' };
    }
    return itemField(column, scope);
  }
  return { problem: `Koha fills no <<${table}.…>> placeholders in this notice` };
}

/** Koha also fills `<<column>>` with the column of whichever table has it. */
function resolveBareColumn(column: string, scope: NameScope): Resolution {
  if (PATRON_FIELDS.has(column)) return patronField(column);
  if (BRANCH_FIELDS.has(column)) return branchField(column);
  if (ITEM_FIELDS.has(column) || HOLD_FIELDS.has(column)) return itemField(column, scope);
  return { problem: `"${column}" is not something the sidecar's notices carry` };
}

/** A dotted Template Toolkit name such as borrower.firstname or overdue.item.biblio.title. */
export function resolveTemplateToolkitName(path: readonly string[], scope: NameScope): Resolution {
  const [root, ...rest] = path;
  const dotted = path.join('.');
  if (scope.inItemLoop && root === 'loop' && scope.loopVar !== null) {
    const member = rest.length === 1 ? LOOP_MEMBERS.get(rest[0]) : undefined;
    return member ? { expr: member, kind: 'value' } : { problem: `"${dotted}" has no counterpart in the sidecar's loops` };
  }
  if (scope.loopVar !== null && root === scope.loopVar) return itemPath(rest, scope, dotted);
  if (root === 'borrower' || root === 'patron') {
    return rest.length === 1 ? patronField(rest[0]) : { problem: `"${dotted}" has no counterpart in the sidecar's notices` };
  }
  if (root === 'branch' || root === 'library') {
    return rest.length === 1 ? branchField(rest[0]) : { problem: `"${dotted}" has no counterpart in the sidecar's notices` };
  }
  if (root === 'today' && rest.length === 0) return { expr: 'today', kind: 'date' };
  if (scope.target.lists.includes(root)) {
    if (rest.length === 0) return { expr: 'items', kind: 'list' };
    if (rest.length === 1 && (rest[0] === 'size' || rest[0] === 'count')) return { expr: 'items | length', kind: 'value' };
    return { problem: `"${dotted}" has no counterpart in the sidecar's notices` };
  }
  if (ITEM_OBJECTS.has(root)) {
    // Not the loop's variable: the letter's own item, which only a one-item letter has.
    return itemPath(root === 'biblio' || root === 'item' ? path : rest, { ...scope, inItemLoop: false }, dotted);
  }
  return { problem: `Koha gives this notice no "${root}"; the sidecar has nothing to put in its place` };
}

/** The column at the end of an item-like path, skipping the hops Koha's objects make (item, biblio). */
function itemPath(path: readonly string[], scope: NameScope, dotted: string): Resolution {
  let rest = [...path];
  if (rest.length === 2 && rest[0] === 'branch' && rest[1] === 'branchname' && isHoldNotice(scope.target)) {
    return { expr: 'pickup_branch', kind: 'value' };
  }
  while (rest.length > 1 && ITEM_HOPS.has(rest[0])) rest = rest.slice(1);
  if (rest.length !== 1) return { problem: `"${dotted}" has no counterpart in the sidecar's notices` };
  return itemField(rest[0], scope);
}
