/**
 * What the host reader gives: Koha's branches, patrons' contact data,
 * overdue loans and changed e-mail addresses, as plain rows.
 */
export interface Branch {
  branchcode: string;
  branchname: string;
  branchemail: string | null;
  branchreplyto: string | null;
  branchreturnpath: string | null;
  branchphone: string | null;
  branchaddress1: string | null;
  branchaddress2: string | null;
  branchzip: string | null;
  branchcity: string | null;
  branchcountry: string | null;
}

/** The patron columns every notice needs: names, contact data, language, branch. */
export interface PatronContact {
  borrowernumber: number;
  cardnumber: string | null;
  surname: string | null;
  firstname: string | null;
  title: string | null;
  email: string | null;
  emailpro: string | null;
  B_email: string | null;
  mobile: string | null;
  smsalertnumber: string | null;
  phone: string | null;
  lang: string | null;
  branchcode: string;
  categorycode: string;
  address: string | null;
  address2: string | null;
  zipcode: string | null;
  city: string | null;
  country: string | null;
  /**
   * The e-mail columns Koha's notices use, in order, comma-separated, as
   * Koha's preferences (EmailFieldPrimary ...) pick them; absent: email,
   * emailpro, B_email.
   */
  email_fields?: string | null;
}

export interface OverdueLoan extends PatronContact {
  issue_id: number;
  itemnumber: number;
  date_due: string;
  /** When the loan was checked out and last renewed (local times as Koha keeps them). */
  issuedate?: string | null;
  lastreneweddate?: string | null;
  issue_branchcode: string | null;
  barcode: string | null;
  homebranch: string | null;
  /** Where the item is now (Koha sets it to the issuing branch at checkout). */
  holdingbranch: string | null;
  itype: string | null;
  itemcallnumber: string | null;
  replacementprice: string | null;
  biblionumber: number;
  biblio_title: string | null;
  author: string | null;
  overduenoticerequired: number | null;
}

/** One patron's address columns beside the verification record the sidecar keeps (v_*: none yet when null). */
export interface EmailChangeRow {
  borrowernumber: number;
  email: string | null;
  emailpro: string | null;
  B_email: string | null;
  categorycode: string;
  branchcode: string;
  lang: string | null;
  /** The e-mail columns Koha's preferences pick, as for notices. */
  email_fields: string | null;
  /** Fingerprint of the three address columns and the category, computed by the database. */
  source_hash: string;
  v_borrowernumber: number | null;
  v_email: string | null;
  v_state: string | null;
  v_source_hash: string | null;
  v_token_version: number | null;
  v_message_id: number | null;
}

/** A row of Koha's `letter` table: one notice text for a module, code, branch, transport and language. */
export interface KohaLetter {
  module: string;
  code: string;
  /** Empty for a letter of every branch. */
  branchcode: string | null;
  name: string;
  is_html: number | null;
  title: string | null;
  content: string | null;
  message_transport_type: string;
  /** `default` or a language code such as `sv-SE`. */
  lang: string | null;
}

/** Koha's own notice jobs at work: rows of its `message_queue` of one letter code and transport since a time. */
export interface KohaQueuedNotices {
  letter_code: string;
  message_transport_type: string;
  count: number;
  /** The newest row's time (Koha's time_queued, else updated_on), as the database gives it. */
  newest: string | null;
}
