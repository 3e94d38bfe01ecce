/**
 * The staff pages at size: each page is fetched whole (routing, database
 * reads, rendering) as staff would, its server time measured, and every
 * statement it sent to kmc_messages explained (ANALYZE for a SELECT), so a
 * page that reads the whole table shows even when it happens to be quick.
 *
 * `measurePages` needs the database and a way to get a page as a signed-in
 * staff member (the integration tests' StaffSession does that; so can any
 * HTTP client holding a session cookie). The table is expected to be big
 * already: `fillMessages` in bench/message-load.ts makes 500,000.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import { DEMO_PASSWORD } from '../sidecar/fixture';
import type { BenchContext } from './context';
import type { SectionResult } from './measure';
import { fillMessages, MESSAGES } from './message-load';

export interface PageTiming {
  page: string;
  /** Median server time of the page over `repeats` fetches, in ms. */
  ms: number;
  /** Some statement of the page read (or planned to read) most of kmc_messages. */
  explainFullScan: boolean;
}

export interface MeasurePagesDeps {
  knex: Knex;
  /** Gets a path as a signed-in staff member; resolves with the HTTP status. */
  get(path: string): Promise<number>;
  /** The pages to measure (path and a label); `pagesToMeasure` gives the standard set. */
  pages: Array<{ page: string; path: string }>;
  repeats?: number;
}

/** A scan that reads at least this share of the table counts as a full scan. */
const FULL_SHARE = 0.5;

interface PlanRow {
  table: string | null;
  type: string | null;
  rows: number | string | null;
  r_rows?: number | string | null;
}

/** The standard set: dashboard, queue and archive (every filter kind, first and deep pages), a run's page, a patron's tab. */
export async function pagesToMeasure(knex: Knex, patron: number): Promise<Array<{ page: string; path: string }>> {
  const last = await knex('kmc_runs').max({ id: 'id' }).first();
  const run = Number(last?.id ?? 1);
  const newest = await knex('kmc_messages').max({ id: 'id' }).first();
  // A cursor 40% of the way down: as deep as page 4,000 of the archive at 500,000 messages.
  const deep = Math.max(1, Math.floor(Number(newest?.id ?? 1) * 0.6));
  return [
    { page: 'dashboard', path: '/dashboard' },
    { page: 'queue', path: '/queue' },
    { page: 'queue, deep', path: `/queue?before=${deep}&page=100` },
    { page: 'queue, failed SMS, deep', path: `/queue?status=failed&channel=sms&before=${deep}&page=100` },
    { page: 'archive', path: '/archive' },
    { page: 'archive, deep', path: `/archive?before=${deep}&page=4000` },
    { page: 'archive, status failed, deep', path: `/archive?status=failed&before=${deep}&page=4000` },
    { page: 'archive, status bounced (none)', path: '/archive?status=bounced' },
    { page: 'archive, type welcome (none)', path: '/archive?type=welcome' },
    { page: 'archive, channel print, deep', path: `/archive?channel=print&before=${deep}&page=4000` },
    { page: 'archive, dates and SMS', path: '/archive?from=2026-01-01&to=2026-03-31&channel=sms' },
    { page: "a run's page", path: `/runs/${run}` },
    { page: "a run's items", path: `/runs/${run}/items` },
    { page: "a patron's tab", path: `/patrons/${patron}/messages` },
  ];
}

/** The names a statement gives kmc_messages: the table itself and its aliases. */
function messageAliases(sql: string): Set<string> {
  const names = new Set<string>(['kmc_messages']);
  for (const m of sql.matchAll(/`kmc_messages`\s+(?:as\s+)?`(\w+)`/gi)) names.add(m[1]);
  return names;
}

export async function measurePages(deps: MeasurePagesDeps): Promise<PageTiming[]> {
  const { knex } = deps;
  const repeats = deps.repeats ?? 5;
  const counted = await knex('kmc_messages').count({ n: '*' }).first();
  const tableRows = Number(counted?.n ?? 0);
  let captured: Array<{ sql: string; bindings: readonly unknown[] }> | null = null;
  const listen = (q: { sql?: string; bindings?: readonly unknown[] }) => {
    if (captured && q.sql && /^\s*select\b/i.test(q.sql) && /`kmc_messages`/.test(q.sql))
      captured.push({ sql: q.sql, bindings: q.bindings ?? [] });
  };
  knex.on('query', listen);
  const out: PageTiming[] = [];
  try {
    for (const { page, path } of deps.pages) {
      captured = [];
      const status = await deps.get(path); // once to warm up, keeping its statements
      const statements = captured;
      captured = null;
      if (status !== 200) throw new Error(`${path} answered ${status}`);
      const times: number[] = [];
      for (let i = 0; i < repeats; i += 1) {
        const began = process.hrtime.bigint();
        await deps.get(path);
        times.push(Number(process.hrtime.bigint() - began) / 1e6);
      }
      times.sort((a, b) => a - b);
      let explainFullScan = false;
      for (const q of statements) {
        const [plan] = (await knex.raw(`ANALYZE ${q.sql}`, q.bindings as Knex.RawBinding[])) as [PlanRow[]];
        const names = messageAliases(q.sql);
        const big = (n: unknown) => Number(n ?? 0) >= tableRows * FULL_SHARE;
        for (const r of plan)
          if (r.table !== null && names.has(r.table) && ((r.type === 'ALL' && big(r.rows)) || big(r.r_rows))) explainFullScan = true;
      }
      out.push({ page, ms: Math.round(times[Math.floor(times.length / 2)] * 10) / 10, explainFullScan });
    }
  } finally {
    knex.off('query', listen);
  }
  return out;
}

/** The page figure of the issue: each page under this server time at 500,000 messages. */
const PAGE_AIM_MS = 200;

/** Cookies as a browser keeps them: name=value from each Set-Cookie, sent back with every request. */
function keepCookies(jar: Map<string, string>, res: Response): void {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1));
  }
}

/** Signs in through the sign-in form, as staff do, and returns a `get` carrying the session. */
async function signIn(base: string, userid: string, password: string): Promise<(path: string) => Promise<number>> {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${base}/signin`);
  keepCookies(jar, form);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!csrf) throw new Error('the sign-in page has no form token');
  const res = await fetch(`${base}/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
    body: new URLSearchParams({ _csrf: csrf, userid, password, next: '/' }).toString(),
  });
  if (res.status !== 303) throw new Error(`signing in as ${userid} answered ${res.status}`);
  keepCookies(jar, res);
  return async (path) => {
    const page = await fetch(`${base}${path}`, { redirect: 'manual', headers: { cookie: cookie() } });
    await page.arrayBuffer(); // the whole page, as staff would wait for it
    return page.status;
  };
}

/**
 * The bench's `pages` section: fills kmc_messages to 500,000 messages (125,000 with --small) in the bench
 * database, serves the staff pages on loopback, signs in as the seeded library's administrator and times
 * each page. The messages are emptied again afterwards, so the section may run after the others.
 */
export async function pagesSection(ctx: BenchContext): Promise<SectionResult> {
  const messages = ctx.small ? 125_000 : MESSAGES;
  await ctx.clearMessages();
  const began = Date.now();
  await fillMessages(ctx.knex, new Date(), messages);
  ctx.log(`filled kmc_messages with ${messages.toLocaleString('en')} messages in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  await ctx.settle();
  const admin = await ctx.knex('borrowers').where('userid', 'admin').pluck<number[]>('borrowernumber');
  if (admin.length === 0) throw new Error('the bench library has no "admin" staff login to sign in with');
  const server = http.createServer(ctx.app.web);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const get = await signIn(`http://127.0.0.1:${port}`, 'admin', DEMO_PASSWORD);
    const timings = await measurePages({
      knex: ctx.knex,
      get,
      pages: await pagesToMeasure(ctx.knex, admin[0]),
      repeats: Math.max(5, ctx.pairs),
    });
    const size = messages.toLocaleString('en');
    const misses = [
      ...timings.filter((t) => t.ms >= PAGE_AIM_MS).map((t) => `${t.page} takes ${t.ms} ms at ${size} messages (aim < ${PAGE_AIM_MS} ms)`),
      ...timings.filter((t) => t.explainFullScan).map((t) => `${t.page} reads most of kmc_messages (a full scan) at ${size} messages`),
    ];
    const table = [`the page timings at ${size} messages (server ms, median of ${Math.max(5, ctx.pairs)} fetches):`, ...pageTable(timings)];
    return { rows: [], misses, tables: table, figures: { messages, pages: timings } };
  } finally {
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
    await ctx.clearMessages();
  }
}

/** The page timings as a table of their own: page, server ms (median), full scan. */
export function pageTable(timings: PageTiming[]): string[] {
  const rows = [
    ['page', 'server ms (median)', 'full scan'],
    ...timings.map((t) => [t.page, t.ms.toFixed(1), t.explainFullScan ? 'YES' : 'no']),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  return [line(rows[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)];
}
