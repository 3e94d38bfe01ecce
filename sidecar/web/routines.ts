/**
 * Routines as the pages read and write them (kmc_routines): a named run of
 * one message type with criteria, a schedule, the general message to
 * patrons, and whether its scheduled runs wait for staff approval. Input
 * from the form is checked here; each problem names its field.
 */
import type { Knex } from 'knex';
import type { MessageType } from '../rules';
import type { RoutineCriteria } from '../notices';
import { ROUTINE_TYPES, RoutineStore as SchedulerRoutineStore, parseCron, type Routine } from '../scheduling';
import type { MessageKey } from './i18n';

export { ROUTINE_TYPES, type Routine };

export interface RoutineInput {
  name: string;
  message_type: string;
  level: number | null;
  criteria: Required<RoutineCriteria>;
  schedule: string | null;
  needs_approval: boolean;
  message_to_patrons: string | null;
  enabled: boolean;
}

export interface FieldError {
  field: string;
  text: MessageKey;
}

/** A routine from a posted form, or the list of what is wrong with it. */
export function routineFromForm(body: Record<string, unknown>): { input: RoutineInput; errors: FieldError[] } {
  const text = (k: string, max: number) => (typeof body[k] === 'string' ? (body[k] as string).trim().slice(0, max) : '');
  const many = (k: string) =>
    (Array.isArray(body[k]) ? (body[k] as unknown[]) : body[k] === undefined ? [] : [body[k]]).filter(
      (v): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{1,10}$/.test(v),
    );
  const errors: FieldError[] = [];
  const name = text('name', 200);
  if (!name) errors.push({ field: 'name', text: 'routine.error.name_missing' });
  else if (name.length > 100) errors.push({ field: 'name', text: 'routine.error.name_long' });
  const type = text('message_type', 32);
  if (!(ROUTINE_TYPES as readonly string[]).includes(type)) errors.push({ field: 'message_type', text: 'routine.error.type' });
  const levelText = text('level', 2);
  let level: number | null = null;
  if (levelText) {
    if (type !== 'overdue' || !/^[1-5]$/.test(levelText)) errors.push({ field: 'level', text: 'routine.error.level' });
    else level = Number(levelText);
  }
  const schedule = text('schedule', 120).replace(/\s+/g, ' ');
  if (schedule) {
    try {
      parseCron(schedule);
    } catch {
      errors.push({ field: 'schedule', text: 'routine.error.schedule' });
    }
  }
  const message = typeof body.message_to_patrons === 'string' ? body.message_to_patrons.replace(/\r\n?/g, '\n').trim() : '';
  if (message.length > 2000) errors.push({ field: 'message_to_patrons', text: 'routine.error.message_long' });
  return {
    input: {
      name,
      message_type: type,
      level,
      criteria: { branches: many('branches'), categories: many('categories'), itemtypes: many('itemtypes') },
      schedule: schedule || null,
      needs_approval: body.needs_approval === '1',
      message_to_patrons: message || null,
      enabled: body.enabled === '1',
    },
    errors,
  };
}

function toRow(i: RoutineInput) {
  return {
    name: i.name,
    message_type: i.message_type,
    level: i.level,
    criteria: JSON.stringify(i.criteria),
    schedule: i.schedule,
    needs_approval: i.needs_approval ? 1 : 0,
    message_to_patrons: i.message_to_patrons,
    enabled: i.enabled ? 1 : 0,
  };
}

/** The routine store of the scheduler, with the filters the list page offers. */
export class RoutinePagesStore {
  private readonly store: SchedulerRoutineStore;

  constructor(knex: Knex) {
    this.store = new SchedulerRoutineStore(knex);
  }

  /** Routines, optionally of one type and for one branch (a routine with no branches covers every branch). */
  async list(filter: { type?: string; branch?: string } = {}): Promise<Routine[]> {
    return (await this.store.list())
      .filter((r) => !filter.type || r.message_type === filter.type)
      .filter((r) => !filter.branch || !r.criteria.branches.length || r.criteria.branches.includes(filter.branch))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(id: number): Promise<Routine | null> {
    return this.store.get(id);
  }

  /** Creates a routine; null when the name is taken. */
  async create(input: RoutineInput): Promise<number | null> {
    if (await this.store.byName(input.name)) return null;
    return this.store.create({ ...input, message_type: input.message_type as MessageType });
  }

  /** Saves a routine; false when the name is taken by another. */
  async update(id: number, input: RoutineInput): Promise<boolean> {
    const other = await this.store.byName(input.name);
    if (other && other.id !== id) return false;
    await this.store.update(id, { ...input, message_type: input.message_type as MessageType });
    return true;
  }
}
