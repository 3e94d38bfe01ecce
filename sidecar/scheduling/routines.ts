/**
 * Routines (kmc_routines): a named run of one message type with criteria, a
 * schedule, an optional general text for patrons and whether its messages
 * wait for staff approval. Migrations seed one standard routine per type.
 */
import type { Knex } from 'knex';
import { KmcError } from '../errors';
import { MESSAGE_TYPES, type MessageType } from '../kernel';
import { parseCron } from './cron';

/** A routine's criteria: an empty (or absent) list means every branch, category or item type. */
export interface RoutineCriteria {
  branches?: string[];
  categories?: string[];
  itemtypes?: string[];
}

/** Types a routine can run; staff messages and verification mails are made one at a time, not by runs. */
export const ROUTINE_TYPES: readonly MessageType[] = ['hold_waiting', 'hold_reminder', 'predue', 'overdue', 'replacement_bill', 'welcome'];

export interface Routine {
  id: number;
  name: string;
  message_type: MessageType;
  level: number | null;
  criteria: Required<RoutineCriteria>;
  schedule: string | null;
  needs_approval: boolean;
  message_to_patrons: string | null;
  enabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface RoutineInput {
  name: string;
  message_type: MessageType;
  level?: number | null;
  criteria?: RoutineCriteria;
  schedule?: string | null;
  needs_approval?: boolean;
  message_to_patrons?: string | null;
  enabled?: boolean;
}

interface RoutineRow extends Omit<Routine, 'criteria' | 'needs_approval' | 'enabled'> {
  criteria: string | null;
  needs_approval: number;
  enabled: number;
}

function invalid(message: string): never {
  throw new KmcError('KMC_ROUTINE_INVALID', message);
}

function codes(list: unknown, what: string, routine: string): string[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list) || !list.every((c) => typeof c === 'string' && /^[A-Za-z0-9_-]{1,10}$/.test(c))) {
    invalid(`routine "${routine}": criteria.${what} must be a list of Koha codes`);
  }
  return [...new Set(list as string[])];
}

export function parseCriteria(value: unknown, routine: string): Required<RoutineCriteria> {
  let raw: unknown = value;
  if (typeof value === 'string') {
    try {
      raw = JSON.parse(value);
    } catch {
      invalid(`routine "${routine}": criteria are not valid JSON`);
    }
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    invalid(`routine "${routine}": criteria must be {"branches":[],"categories":[],"itemtypes":[]}`);
  const c = raw as Record<string, unknown>;
  const unknownKeys = Object.keys(c).filter((k) => !['branches', 'categories', 'itemtypes'].includes(k));
  if (unknownKeys.length)
    invalid(`routine "${routine}": unknown criteria ${unknownKeys.join(', ')} (known: branches, categories, itemtypes)`);
  return {
    branches: codes(c.branches, 'branches', routine),
    categories: codes(c.categories, 'categories', routine),
    itemtypes: codes(c.itemtypes, 'itemtypes', routine),
  };
}

function fromRow(r: RoutineRow): Routine {
  return {
    ...r,
    id: r.id,
    level: r.level,
    criteria: parseCriteria(r.criteria, r.name),
    needs_approval: !!r.needs_approval,
    enabled: !!r.enabled,
  };
}

export function validateRoutine(input: RoutineInput): void {
  if (!input.name || input.name.trim().length > 100) invalid('a routine needs a name of 1 to 100 characters');
  if (!(MESSAGE_TYPES as readonly string[]).includes(input.message_type) || !ROUTINE_TYPES.includes(input.message_type)) {
    invalid(`routine "${input.name}": "${input.message_type}" is not a type a routine can run (${ROUTINE_TYPES.join(', ')})`);
  }
  if (
    input.level != null &&
    (input.message_type !== 'overdue' || !(Number.isInteger(input.level) && input.level >= 1 && input.level <= 5))
  ) {
    invalid(`routine "${input.name}": only overdue routines take a level, from 1 to 5`);
  }
  if (input.schedule) parseCron(input.schedule);
  if (input.criteria !== undefined) parseCriteria(input.criteria, input.name);
  if (input.message_to_patrons && input.message_to_patrons.length > 2000)
    invalid(`routine "${input.name}": the message to patrons takes at most 2000 characters`);
}

/** What every run of a routine carries, whoever starts it: the scheduler, the command line or staff. */
export function routineRunFields(routine: Routine) {
  return {
    type: routine.message_type,
    level: routine.level,
    criteria: routine.criteria,
    messageToPatrons: routine.message_to_patrons,
    needsApproval: routine.needs_approval,
    routineId: routine.id,
    routineName: routine.name,
  };
}

export class RoutineStore {
  constructor(private readonly knex: Knex) {}

  async list(opts: { enabledOnly?: boolean } = {}): Promise<Routine[]> {
    const q = this.knex<RoutineRow>('kmc_routines').orderBy('id');
    if (opts.enabledOnly) q.where({ enabled: 1 });
    return (await q.select()).map(fromRow);
  }

  async get(id: number): Promise<Routine | null> {
    const row = await this.knex<RoutineRow>('kmc_routines').where({ id }).first();
    return row ? fromRow(row) : null;
  }

  /** The names of these routines, by id. */
  async names(ids: number[]): Promise<Map<number, string>> {
    if (!ids.length) return new Map();
    const rows = await this.knex<RoutineRow>('kmc_routines').whereIn('id', ids).select('id', 'name');
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  async byName(name: string): Promise<Routine | null> {
    const row = await this.knex<RoutineRow>('kmc_routines').where({ name }).first();
    return row ? fromRow(row) : null;
  }

  async create(input: RoutineInput): Promise<number> {
    validateRoutine(input);
    try {
      const [id] = await this.knex('kmc_routines').insert({
        name: input.name.trim(),
        message_type: input.message_type,
        level: input.level ?? null,
        criteria: JSON.stringify(parseCriteria(input.criteria ?? {}, input.name)),
        schedule: input.schedule?.trim() || null,
        needs_approval: input.needs_approval ? 1 : 0,
        message_to_patrons: input.message_to_patrons ?? null,
        enabled: input.enabled === false ? 0 : 1,
      });
      return id;
    } catch (err) {
      if ((err as { code?: string }).code === 'ER_DUP_ENTRY') invalid(`there is already a routine named "${input.name.trim()}"`);
      throw err;
    }
  }

  async update(id: number, patch: Partial<RoutineInput>): Promise<void> {
    const current = await this.get(id);
    if (!current) throw new KmcError('KMC_ROUTINE_NOT_FOUND', `there is no routine ${id}`);
    const merged: RoutineInput = { ...current, ...patch };
    validateRoutine(merged);
    const row: Record<string, unknown> = {};
    if (patch.name !== undefined) row.name = patch.name.trim();
    if (patch.message_type !== undefined) row.message_type = patch.message_type;
    if (patch.level !== undefined) row.level = patch.level;
    if (patch.criteria !== undefined) row.criteria = JSON.stringify(parseCriteria(patch.criteria, merged.name));
    if (patch.schedule !== undefined) row.schedule = patch.schedule?.trim() || null;
    if (patch.needs_approval !== undefined) row.needs_approval = patch.needs_approval ? 1 : 0;
    if (patch.message_to_patrons !== undefined) row.message_to_patrons = patch.message_to_patrons;
    if (patch.enabled !== undefined) row.enabled = patch.enabled ? 1 : 0;
    if (Object.keys(row).length) await this.knex('kmc_routines').where({ id }).update(row);
  }
}
