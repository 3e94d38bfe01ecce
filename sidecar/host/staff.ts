/**
 * What the staff pages read from Koha: staff accounts and their permissions
 * (for sign-in), patrons found by name or card number (for the archive), and
 * where held items sit on the shelves (for the pick list). Read-only, like
 * everything under host/.
 */
import type { Knex } from 'knex';

export interface StaffAccount {
  borrowernumber: number;
  userid: string | null;
  cardnumber: string | null;
  firstname: string | null;
  surname: string | null;
  /** Koha's module bit field (borrowers.flags); 0 when NULL. */
  flags: number;
  lang: string | null;
  branchcode: string;
}

export interface StaffLogin extends StaffAccount {
  /** Koha's bcrypt hash (`$2a$…`), or null when the account has no password. */
  passwordHash: string | null;
}

export interface SubPermission {
  module_bit: number;
  code: string;
}

export interface ItemShelving {
  itemnumber: number;
  /** Shelving location code (items.location), and its description where Koha has one. */
  location: string | null;
  locationName: string | null;
  callnumber: string | null;
  homebranch: string | null;
  holdingbranch: string | null;
}

export interface StaffReader {
  /** A login by user name, or by card number as Koha also allows. */
  staffLogin(userid: string): Promise<StaffLogin | null>;
  staffAccount(borrowernumber: number): Promise<StaffAccount | null>;
  subPermissions(borrowernumber: number): Promise<SubPermission[]>;
  /** Patrons whose name or card number matches, for searching messages; at most `limit`. */
  findPatrons(text: string, limit: number): Promise<number[]>;
  shelving(itemnumbers: number[]): Promise<Map<number, ItemShelving>>;
  /** Patron categories and item types, for choosing a routine's criteria. */
  patronCategories(): Promise<Array<{ code: string; description: string }>>;
  itemTypes(): Promise<Array<{ code: string; description: string }>>;
}

const ACCOUNT_COLUMNS = ['borrowernumber', 'userid', 'cardnumber', 'firstname', 'surname', 'flags', 'lang', 'branchcode'];

type AccountRow = Omit<StaffAccount, 'flags'> & { flags: number | string | null };

function account(row: AccountRow): StaffAccount {
  return { ...row, flags: Number(row.flags ?? 0) || 0 };
}

/** LIKE needs its own wildcards escaped, or a search for "50%" finds everything. */
function likeText(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export function createStaffReader(knex: Knex): StaffReader {
  let hasLocationNames: boolean | null = null;

  return {
    async staffLogin(userid) {
      const name = userid.trim();
      if (!name) return null;
      type LoginRow = AccountRow & { password: string | null };
      const byUserid = await knex('borrowers')
        .where({ userid: name })
        .first<LoginRow | undefined>([...ACCOUNT_COLUMNS, 'password']);
      const row =
        byUserid ??
        (await knex('borrowers')
          .where({ cardnumber: name })
          .first<LoginRow | undefined>([...ACCOUNT_COLUMNS, 'password']));
      if (!row) return null;
      const { password, ...rest } = row;
      return { ...account(rest), passwordHash: password ?? null };
    },

    async staffAccount(borrowernumber) {
      const row = await knex('borrowers').where({ borrowernumber }).first<AccountRow | undefined>(ACCOUNT_COLUMNS);
      return row ? account(row) : null;
    },

    async subPermissions(borrowernumber) {
      const rows = await knex('user_permissions').where({ borrowernumber }).select<SubPermission[]>('module_bit', 'code');
      return rows;
    },

    async findPatrons(text, limit) {
      const words = text.trim().split(/\s+/).filter(Boolean).slice(0, 4);
      if (!words.length) return [];
      const q = knex('borrowers').select<Array<{ borrowernumber: number }>>('borrowernumber').limit(limit).orderBy('borrowernumber');
      // A card number matches whole; names match word by word from their start.
      void q.where((w) => {
        void w.where('cardnumber', text.trim()).orWhere((names) => {
          for (const word of words) {
            const like = `${likeText(word)}%`;
            void names.where((one) => void one.where('surname', 'like', like).orWhere('firstname', 'like', like));
          }
        });
      });
      return (await q).map((r) => r.borrowernumber);
    },

    async shelving(itemnumbers) {
      const ids = [...new Set(itemnumbers.filter((n) => Number.isInteger(n)))];
      const out = new Map<number, ItemShelving>();
      if (!ids.length) return out;
      const rows = await knex('items').whereIn('itemnumber', ids).select<
        Array<{
          itemnumber: number;
          location: string | null;
          itemcallnumber: string | null;
          homebranch: string | null;
          holdingbranch: string | null;
        }>
      >('itemnumber', 'location', 'itemcallnumber', 'homebranch', 'holdingbranch');
      // Koha describes shelving locations in authorised_values (category LOC); a reduced schema may not have it.
      if (hasLocationNames === null) hasLocationNames = await knex.schema.hasTable('authorised_values');
      const names = new Map<string, string>();
      const codes = [...new Set(rows.map((r) => r.location).filter((c): c is string => !!c))];
      if (hasLocationNames && codes.length) {
        const avs = await knex('authorised_values')
          .where({ category: 'LOC' })
          .whereIn('authorised_value', codes)
          .select<Array<{ authorised_value: string; lib: string | null }>>('authorised_value', 'lib');
        for (const a of avs) if (a.lib) names.set(a.authorised_value, a.lib);
      }
      for (const r of rows) {
        out.set(r.itemnumber, {
          itemnumber: r.itemnumber,
          location: r.location,
          locationName: r.location ? (names.get(r.location) ?? null) : null,
          callnumber: r.itemcallnumber,
          homebranch: r.homebranch,
          holdingbranch: r.holdingbranch,
        });
      }
      return out;
    },

    async patronCategories() {
      const rows = await knex('categories')
        .select<Array<{ code: string; description: string | null }>>('categorycode as code', 'description')
        .orderBy('categorycode');
      return rows.map((r) => ({ code: r.code, description: r.description ?? r.code }));
    },

    async itemTypes() {
      const rows = await knex('itemtypes')
        .select<Array<{ code: string; description: string | null }>>('itemtype as code', 'description')
        .orderBy('itemtype');
      return rows.map((r) => ({ code: r.code, description: r.description ?? r.code }));
    },
  };
}
