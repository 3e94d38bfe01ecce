/**
 * Routines as staff edit them: a named run of one message type with
 * criteria, a schedule, the general message to patrons, and whether its
 * scheduled runs wait for staff approval. What staff filled in is checked
 * here; each problem names its field and the catalogue text that says what
 * is wrong.
 */
import { isMessageType } from '../kernel';
import { parseCron } from './cron';
import { ROUTINE_TYPES, type Routine, type RoutineStore } from './routines';

/** The catalogue keys of the problems a routine's form can have. */
export type RoutineProblem =
  | 'routine.error.name_missing'
  | 'routine.error.name_long'
  | 'routine.error.type'
  | 'routine.error.level'
  | 'routine.error.schedule'
  | 'routine.error.schedule_choice'
  | 'routine.error.message_long'
  | 'routine.error.name_taken';

/** A routine as staff filled it in: every field present, the type still to be checked. */
export type RoutineForm = Omit<Routine, 'id' | 'created_at' | 'updated_at' | 'message_type'> & { message_type: string };

export interface FieldError {
  field: string;
  text: RoutineProblem;
}

/** A routine from a posted form, or the list of what is wrong with it. */
export function routineFromForm(body: Record<string, unknown>): { input: RoutineForm; errors: FieldError[] } {
  const text = (k: string, max: number) => {
    const v = body[k];
    return typeof v === 'string' ? v.trim().slice(0, max) : '';
  };
  const many = (k: string) => {
    const v = body[k];
    return (Array.isArray(v) ? (v as unknown[]) : v === undefined ? [] : [v]).filter(
      (v): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{1,10}$/.test(v),
    );
  };
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

/** Listing, creating and saving routines for staff, over the routine store. */
export class RoutineEditor {
  constructor(private readonly store: RoutineStore) {}

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
  async create(input: RoutineForm): Promise<number | null> {
    if (await this.store.byName(input.name)) return null;
    if (!isMessageType(input.message_type)) throw new RangeError(`"${input.message_type}" is not a message type`);
    return this.store.create({ ...input, message_type: input.message_type });
  }

  /** Saves a routine; false when the name is taken by another. */
  async update(id: number, input: RoutineForm): Promise<boolean> {
    const other = await this.store.byName(input.name);
    if (other && other.id !== id) return false;
    if (!isMessageType(input.message_type)) throw new RangeError(`"${input.message_type}" is not a message type`);
    await this.store.update(id, { ...input, message_type: input.message_type });
    return true;
  }
}
