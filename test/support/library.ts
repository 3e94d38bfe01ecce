/**
 * A small, hand-made library for the overdue path: every patron and loan
 * here exists for a reason the tests name.
 */
import type { Knex } from 'knex';
import { KohaBuilder } from '../../sidecar/fixture';

export const RUN_DAY = '2026-11-24';

export interface SmallLibrary {
  builder: KohaBuilder;
  patrons: { asa: number; jurgen: number; soren: number; anna: number; futureOnly: number; child: number };
  loans: {
    asaOld: number;
    asaMid: number;
    asaRecent: number;
    jurgenExact: number;
    sorenOld: number;
    annaOld: number;
    future: number;
    childOld: number;
  };
}

export async function buildSmallLibrary(knex: Knex): Promise<SmallLibrary> {
  const k = new KohaBuilder(knex);
  await k.branch({
    code: 'CPL',
    name: 'Centralbiblioteket',
    email: 'central@bibliotek.example.org',
    phone: '+46 8 123 456',
    address1: 'Storgatan 1',
    zip: '111 22',
    city: 'Stockholm',
  });
  await k.branch({ code: 'HAF', name: 'Stadtbibliothek am Hafen', email: 'hafen@stadtbibliothek.example.net', city: 'Hamburg' });
  await k.category({ code: 'PT', description: 'Vuxen', categoryType: 'A', overdueNoticeRequired: true });
  await k.category({ code: 'KI', description: 'Barn', categoryType: 'C', overdueNoticeRequired: false });
  await k.itemtype({ code: 'BK', description: 'Bok', defaultReplaceCost: 250 });

  const asa = await k.patron({
    surname: 'Öberg',
    firstname: 'Åsa',
    email: 'asa.oberg@example.org',
    lang: 'sv-SE',
    branchcode: 'CPL',
    categorycode: 'PT',
    address: 'Ängsvägen 3',
    zipcode: '123 45',
    city: 'Solna',
  });
  const jurgen = await k.patron({
    surname: 'Müller',
    firstname: 'Jürgen',
    email: 'juergen.mueller@example.net',
    lang: 'de-DE',
    branchcode: 'HAF',
    categorycode: 'PT',
  });
  const soren = await k.patron({
    surname: 'Sørensen',
    firstname: 'Søren',
    email: null,
    lang: 'da-DK',
    branchcode: 'CPL',
    categorycode: 'PT',
    address: 'Nørregade 7',
    zipcode: '1165',
    city: 'København',
  });
  const anna = await k.patron({
    surname: 'Lund',
    firstname: 'Anna',
    email: 'anna.lund@@example',
    lang: 'default',
    branchcode: 'CPL',
    categorycode: 'PT',
    address: 'Parkvägen 9',
    city: 'Uppsala',
  });
  const futureOnly = await k.patron({
    surname: 'Berg',
    firstname: 'Erik',
    email: 'erik.berg@example.org',
    branchcode: 'CPL',
    categorycode: 'PT',
  });
  const child = await k.patron({ surname: 'Ek', firstname: 'Lisa', email: 'lisa.ek@example.org', branchcode: 'CPL', categorycode: 'KI' });

  const book = async (title: string, author: string, branch = 'CPL') => {
    const b = await k.biblio({ title, author });
    return k.item({ biblionumber: b, homebranch: branch, itype: 'BK' });
  };
  const loans = {
    asaOld: await k.loan({
      borrowernumber: asa,
      itemnumber: await book('Röda rummet', 'Strindberg, August'),
      dateDue: '2026-11-10',
      branchcode: 'CPL',
    }),
    asaMid: await k.loan({
      borrowernumber: asa,
      itemnumber: await book('Gösta Berlings saga', 'Lagerlöf, Selma'),
      dateDue: '2026-11-15',
      branchcode: 'CPL',
    }),
    // Four days late on the run day: below the 7-day delay, due for a notice on 2026-11-27.
    asaRecent: await k.loan({
      borrowernumber: asa,
      itemnumber: await book('Hemsöborna', 'Strindberg, August'),
      dateDue: '2026-11-20',
      branchcode: 'CPL',
    }),
    // Exactly seven days late: the first day a level-1 notice is due.
    jurgenExact: await k.loan({
      borrowernumber: jurgen,
      itemnumber: await book('Der Zauberberg', 'Mann, Thomas', 'HAF'),
      dateDue: '2026-11-17',
      branchcode: 'HAF',
    }),
    sorenOld: await k.loan({
      borrowernumber: soren,
      itemnumber: await book('Kongens Fald', 'Jensen, Johannes V.'),
      dateDue: '2026-11-01',
      branchcode: 'CPL',
    }),
    annaOld: await k.loan({
      borrowernumber: anna,
      itemnumber: await book('Utvandrarna', 'Moberg, Vilhelm'),
      dateDue: '2026-11-05',
      branchcode: 'CPL',
    }),
    future: await k.loan({
      borrowernumber: futureOnly,
      itemnumber: await book('Pippi Långstrump', 'Lindgren, Astrid'),
      dateDue: '2026-12-10',
      branchcode: 'CPL',
    }),
    // The child category asks for no overdue notices, as Koha's categories.overduenoticerequired says.
    childOld: await k.loan({
      borrowernumber: child,
      itemnumber: await book('Mio, min Mio', 'Lindgren, Astrid'),
      dateDue: '2026-11-01',
      branchcode: 'CPL',
    }),
  };
  await k.systemPreference('dateformat', 'iso');
  return { builder: k, patrons: { asa, jurgen, soren, anna, futureOnly, child }, loans };
}
