/**
 * Koha's own SMTP servers (Administration › SMTP servers): `smtp_servers`,
 * the one marked `is_default`, and `library_smtp_servers` naming a server
 * for a library. Read as Koha's `Koha::Library->smtp_server` reads them: a
 * library's own server, else the default one, else none (Koha then falls
 * back to its built-in localhost, the sidecar to KMC_SMTP_URL).
 */
import type { Knex } from 'knex';

/** One of Koha's SMTP servers, as Koha keeps it. */
export interface KohaSmtpServer {
  id: number;
  name: string;
  host: string;
  port: number;
  /** Seconds. */
  timeout: number;
  ssl_mode: 'disabled' | 'ssl' | 'starttls';
  user_name: string | null;
  password: string | null;
}

/** Which server each library sends through, and the default one. */
export interface KohaSmtpServers {
  /** branchcode → the server Koha names for that library. */
  byBranch: Map<string, KohaSmtpServer>;
  /** The server marked as default, or null when Koha marks none. */
  defaultServer: KohaSmtpServer | null;
}

function isMissingTable(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_FIELD_ERROR';
}

function asSslMode(v: unknown): KohaSmtpServer['ssl_mode'] {
  return v === 'ssl' || v === 'starttls' ? v : 'disabled';
}

/** Two small queries; a Koha older than its SMTP servers (no tables) names none. */
export async function readKohaSmtpServers(knex: Knex): Promise<KohaSmtpServers> {
  type Row = Omit<KohaSmtpServer, 'ssl_mode'> & { ssl_mode: string; is_default: number };
  let servers: Row[];
  let links: Array<{ library_id: string; smtp_server_id: number }>;
  try {
    servers = await knex('smtp_servers')
      .orderBy('id')
      .select<Row[]>('id', 'name', 'host', 'port', 'timeout', 'ssl_mode', 'user_name', 'password', 'is_default');
    links = await knex('library_smtp_servers').select<Array<{ library_id: string; smtp_server_id: number }>>(
      'library_id',
      'smtp_server_id',
    );
  } catch (err) {
    if (isMissingTable(err)) return { byBranch: new Map(), defaultServer: null };
    throw err;
  }
  const byId = new Map<number, KohaSmtpServer>();
  let defaultServer: KohaSmtpServer | null = null;
  for (const r of servers) {
    const server: KohaSmtpServer = {
      id: r.id,
      name: r.name,
      host: r.host,
      port: r.port,
      timeout: r.timeout,
      ssl_mode: asSslMode(r.ssl_mode),
      user_name: r.user_name || null,
      password: r.password ?? null,
    };
    byId.set(r.id, server);
    // Koha allows one default; should there be several, the first stands.
    if (r.is_default && !defaultServer) defaultServer = server;
  }
  const byBranch = new Map<string, KohaSmtpServer>();
  for (const l of links) {
    const server = byId.get(l.smtp_server_id);
    if (server) byBranch.set(l.library_id, server);
  }
  return { byBranch, defaultServer };
}
