/**
 * Notice runs: pick the generator for a message type, record the run, store
 * what it makes. The scheduler, staff and the command line all come through here.
 */
import { KmcError } from '../errors';
import { MESSAGE_TYPES, isMessageType, libraryDay, type MessageType } from '../kernel';
import { isRefusedValue, type NewMessage } from '../queue';
import type { NoticeDeps } from './context';
import { generateOverdue, generateReplacementBills } from './overdue';
import { generatePredue } from './predue';
import { generateHoldReminder, generateHoldWaiting } from './holds';
import { generateWelcome } from './welcome';
import { skipRecord, type GenerateArgs, type MessageSink, type RoutineCriteria } from './engine';
import { countInto, emptyStats, type RunStats } from './runs';

type Generator = (deps: NoticeDeps, args: GenerateArgs, stats: RunStats, sink: MessageSink) => Promise<void>;

const GENERATORS: Partial<Record<MessageType, Generator>> = {
  overdue: generateOverdue,
  replacement_bill: generateReplacementBills,
  predue: generatePredue,
  hold_waiting: generateHoldWaiting,
  hold_reminder: generateHoldReminder,
  welcome: generateWelcome,
};

export interface RunRequest {
  type: string;
  /** Library day YYYY-MM-DD; today in the library's time zone when absent. */
  date?: string | null;
  branchcode?: string | null;
  dryRun?: boolean;
  startedBy: string;
  /** Scheduled runs name their job and fire time; a fire already taken is not run again. */
  job?: string;
  fireTime?: Date;
  automated?: boolean;
  messageToPatrons?: string | null;
  /** Overdue: only this level; absent = whichever level is due for each loan. */
  level?: number | null;
  /** A routine's criteria: branches, patron categories, item types (empty = all). */
  criteria?: RoutineCriteria | null;
  /** Messages are made as `proposed` and wait for staff approval. */
  needsApproval?: boolean;
  routineId?: number | null;
  routineName?: string | null;
  /** Hold notices: also for holds already waiting before the first run (`kmc run hold_waiting --include-existing`). */
  includeExisting?: boolean;
  /** Told the run's id as soon as the run is recorded, before it makes anything (a page shows its progress). */
  onOpen?: (runId: number) => void;
}

export interface RunResult extends RunStats {
  runId: number | null;
  type: string;
  date: string;
  branch: string | null;
  dryRun: boolean;
  /** Why nothing ran: the plugin is switched off in Koha, or another instance took this fire. */
  notRun?: 'disabled' | 'already_run';
}

export async function runNotices(deps: NoticeDeps, req: RunRequest): Promise<RunResult> {
  if (!isMessageType(req.type)) {
    throw new KmcError('KMC_UNKNOWN_MESSAGE_TYPE', `unknown message type "${req.type}"; known: ${MESSAGE_TYPES.join(', ')}`);
  }
  const generator = GENERATORS[req.type];
  if (!generator) throw new KmcError('KMC_NOT_IMPLEMENTED', `notices of type "${req.type}" cannot be generated yet`);
  const date = req.date ?? libraryDay(deps.clock.now(), deps.settings.timezone);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
    throw new KmcError('KMC_BAD_DATE', `"${date}" is not a date of the form YYYY-MM-DD`);
  }
  const stats = emptyStats();
  const base: RunResult = { runId: null, type: req.type, date, branch: req.branchcode ?? null, dryRun: !!req.dryRun, ...stats };

  if (!(await deps.host.isEnabled(deps.settings.pluginClass))) {
    deps.logger.info('run.skipped_disabled', { type: req.type, date });
    return { ...base, notRun: 'disabled' };
  }

  const runLog = deps.runs;
  // A run of this type whose process died must not stay `running`; this run makes what it did not.
  const abandoned = await runLog.abandonStale();
  if (abandoned.length) deps.logger.warn('run.abandoned', { runIds: abandoned, type: req.type });
  const heartbeatMs = deps.settings.runHeartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const leaseMs = heartbeatMs * LEASE_HEARTBEATS;
  const runId = await runLog.open({
    leaseMs,
    job: req.job,
    fireTime: req.fireTime,
    runDate: date,
    messageType: req.type,
    branchcode: req.branchcode ?? null,
    dryRun: !!req.dryRun,
    startedBy: req.startedBy,
    at: deps.clock.now(),
  });
  if (runId === null) {
    deps.logger.info('run.skipped_already_run', { type: req.type, job: req.job });
    return { ...base, notRun: 'already_run' };
  }
  deps.logger.info('run.started', { runId, type: req.type, date, branch: req.branchcode ?? null, dryRun: !!req.dryRun });
  req.onOpen?.(runId);

  const sink = async (messages: NewMessage[]) => {
    const made = req.dryRun ? messages : await storeMessages(deps, messages, req.startedBy, stats);
    for (const m of made) {
      stats.created += 1;
      countInto(stats.byChannel, m.channel);
      countInto(stats.byStatus, m.status);
    }
  };

  const heartbeat = keepAlive(deps, runId, heartbeatMs, leaseMs);
  try {
    await generator(
      deps,
      {
        runId,
        runDate: date,
        branchcode: req.branchcode ?? null,
        dryRun: !!req.dryRun,
        automated: !!req.automated,
        actor: req.startedBy,
        messageToPatrons: req.messageToPatrons,
        level: req.level ?? null,
        criteria: req.criteria ?? null,
        needsApproval: !!req.needsApproval,
        routineId: req.routineId ?? null,
        routineName: req.routineName ?? null,
        includeExisting: !!req.includeExisting,
      },
      stats,
      sink,
    );
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await runLog.fail(runId, message, deps.clock.now());
    deps.logger.error('run.failed', { runId, type: req.type, code: err instanceof KmcError ? err.code : 'KMC_INTERNAL', error: message });
    throw err;
  } finally {
    heartbeat.stop();
  }
  await runLog.finish(runId, stats, deps.clock.now());
  deps.logger.info('run.finished', { runId, type: req.type, created: stats.created, skipped: stats.skipped, duplicates: stats.duplicates });
  return { ...base, ...stats, runId };
}

/** A run renews its lease this often unless the settings say otherwise. */
const DEFAULT_HEARTBEAT_MS = 30_000;
/** Heartbeats a run may miss before it counts as abandoned: a slow database answer is not a death. */
const LEASE_HEARTBEATS = 4;

/** Renews the run's lease every heartbeat while it works; never keeps the process alive by itself. */
function keepAlive(deps: NoticeDeps, runId: number, heartbeatMs: number, leaseMs: number): { stop(): void } {
  const timer = setInterval(() => {
    deps.runs.renew(runId, leaseMs).then(
      (running) => {
        if (!running) deps.logger.warn('run.lease_lost', { runId });
      },
      (err: unknown) => {
        deps.logger.warn('run.heartbeat_failed', { runId, error: err instanceof Error ? err.message : String(err) });
      },
    );
  }, heartbeatMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}

/**
 * Stores a batch and answers the messages this run stored. When the
 * database refuses a value of one message (too long, out of range), the
 * batch is stored message by message: the refused ones are skipped with
 * their reason on the run, every other patron's message is stored.
 */
async function storeMessages(deps: NoticeDeps, messages: NewMessage[], actor: string, stats: RunStats): Promise<NewMessage[]> {
  const made: NewMessage[] = [];
  // In parts of the store's own transaction size, so a refused part was stored not at all.
  for (let at = 0; at < messages.length; at += STORE_PART) {
    const part = messages.slice(at, at + STORE_PART);
    try {
      const res = await deps.store.insertMessages(part, deps.clock.now(), actor);
      stats.duplicates += res.duplicates;
      made.push(...(res.duplicates ? await keepCreated(deps, part, res.ids) : part));
      continue;
    } catch (err) {
      if (!isRefusedValue(err)) throw err;
    }
    for (const m of part) {
      try {
        const res = await deps.store.insertMessages([m], deps.clock.now(), actor);
        stats.duplicates += res.duplicates;
        if (res.created) made.push(m);
      } catch (err) {
        if (!isRefusedValue(err)) throw err;
        skipRefused(deps, m, errorCode(err), stats);
      }
    }
  }
  return made;
}

/** Messages the store writes in one transaction (its own batch size). */
const STORE_PART = 500;

/** A message the database refused: each loan or hold it covers is skipped with the reason on the run. */
function skipRefused(deps: NoticeDeps, m: NewMessage, detail: string, stats: RunStats): void {
  deps.logger.warn('run.record_skipped', { runId: m.runId ?? null, borrowernumber: m.borrowernumber, detail });
  const base = { reason: 'cannot_store', borrowernumber: m.borrowernumber, detail };
  if (!m.items.length) skipRecord(stats, base);
  for (const it of m.items) {
    skipRecord(stats, { ...base, ...(it.issueId ? { issueId: it.issueId } : {}), ...(it.reserveId ? { reserveId: it.reserveId } : {}) });
  }
}

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unknown';
}

/** When some messages of a batch were duplicates, count only those this run stored. */
async function keepCreated(deps: NoticeDeps, messages: NewMessage[], ids: number[]): Promise<NewMessage[]> {
  if (!ids.length) return [];
  const keys = await deps.store.keysOf(ids);
  return messages.filter((m) => keys.has(m.idempotencyKey));
}
