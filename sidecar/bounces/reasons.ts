/**
 * Why a delivery failed, from the remote server's words first and the status code second, and whether that
 * failure is for good (hard) or may pass (soft).
 */

/** Reasons that mean the address itself is unusable: the only ones that make a bounce hard. */
export const HARD_REASONS: ReadonlySet<string> = new Set(['userunknown', 'hostunknown', 'hasmoved', 'notaccept']);

/** In order: the first that matches names the reason, so the more telling words come first. */
const WORDS: readonly (readonly [string, RegExp])[] = [
  // Office 365 answers an unknown recipient of a tenant so (with 5.4.1), before anything that reads "access denied" as a block.
  ['userunknown', /recipient address rejected: access denied|RecipNotFound/i],
  [
    'mailboxfull',
    /メールボックスが一杯|mail ?box (is |was )?(full|over|exceeds)|over ?quota|quota (exceeded|full|limit)|exceed(ed|s)? (the |its |his |her |their )?(storage |mailbox |disk )?quota|insufficient (disk )?(space|storage)|mailbox size limit|not enough (storage|space)|user is over|full mailbox|out of (disk )?space|(storage|inbox) (space )?(is )?full|maildir over|exceeded storage/i,
  ],
  ['mesgtoobig', /message (size|length) exceeds|message (is )?too (big|large)|size limit|exceeds (the )?(maximum|size)|message size/i],
  ['virus', /virus|malware|infected|banned attachment/i],
  // cPanel's Exim says so when the recipient's domain has no mail server.
  ['hostunknown', /the account or domain may not exist/i],
  [
    'blocked',
    /block ?list|black ?list|\brbl\b|dnsbl|spamhaus|spamcop|sorbs|barracudacentral|(?<!not )listed (at|in|on|by)|reputation|refused to talk|(your|sending|client) (ip|host|server|mta)\b.*(block|reject|refus|not allowed)|\bblocked\b|access denied/i,
  ],
  ['spam', /spam|junk|bulk mail|unsolicited/i],
  ['requireptr', /reverse (dns|lookup|hostname)|\bptr\b|\brdns\b|cannot find your hostname|resolve your (ip|host)/i],
  ['authfailure', /\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|not authorized to send/i],
  [
    'norelaying',
    /relay(ing)? (access )?(denied|not permitted|not allowed|prohibited)|not permitted to relay|unable to relay|rcpthosts|we do not relay|no relaying/i,
  ],
  ['toomanyconn', /too many (connections|concurrent|sessions|messages|recipients)|rate limit|throttl|exceeded the (rate|connection)/i],
  [
    'suspend',
    /(account|mailbox|user|address)\b.{0,40}\b(is|has been|was) (disabled|suspended|inactive|deactivated|locked|frozen)|(account|mailbox|user|address)( is| has been| was)? (disabled|suspended|inactive|deactivated|locked|frozen|blocked)|(disabled|inactive|suspended) (account|mailbox|user)|not active/i,
  ],
  // Mailing lists that take posts from members only; KDDI's "550 : User unknown" (no address) is its content filter.
  ['rejected', /not have permission to post|not a member of/i],
  ['filtered', /\b550:? : user unknown/i],
  [
    'rejected',
    /sender (address )?(rejected|refused|blocked|denied|invalid|verify)|domain of sender address|mail from.{0,40}reject|invalid sender/i,
  ],
  ['mailererror', /mailer error|exit (status|code)|command (failed|died)|procmail|pipe to/i],
  ['hasmoved', /has moved|moved permanently|new (e-?mail )?address is|changed (his|her|their) (e-?mail )?address/i],
  [
    'notaccept',
    /does not accept (e-?)?mail|not accepting (any |network )?(mail|messages)|null mx|accepts no mail|no smtp service|no mx found|find a mail exchanger/i,
  ],
  ['networkerror', /malformed or unexpected name server|not found, try again/i],
  [
    'hostunknown',
    /host (or domain name )?not found|host \S+ not found|dns lookup failure|unknown host|host unknown|domain (name )?(not found|does not exist|unknown|lookup failed)|no (mx|a) record|name or service not known|unrouteable|no such domain|nxdomain|unable to resolve|domain is not reachable|(?<![@\w.-])[a-z0-9-]+(\.[a-z0-9-]+)+ does not exist/i,
  ],
  [
    'userunknown',
    /user(name)? (is )?unknown|unknown (user|recipient|local[- ]?part|mailbox|address|account)|no such (user|mailbox|recipient|address|account|local user|person)|(user|mailbox|recipient|address|account)\b.{0,60}(does not|doesn't|did not|not) exist|does not exist|invalid (recipient|mailbox|user|address|e-?mail)|(recipient|mailbox|user|address|account) (is )?(invalid|not found|unknown|unavailable|not valid)|not a valid (mailbox|user|recipient)|user not found|not our customer|unknown or illegal alias|address rejected(?!:)|no account by that name|bad destination mailbox|mailbox unavailable|not listed in|no mailbox|invalid .{0,20}userid/i,
  ],
  ['securityerror', /\btls\b|starttls|encryption|authentication (is )?required|smtp auth|must (be )?authenticat/i],
  [
    'expired',
    /expired|could not deliver for|giving up|timed? ?out|time ?out|retry time|could not be delivered (with)?in|too long in (the )?queue|undeliverable for \d+|maximum (time|retries)/i,
  ],
  [
    'networkerror',
    /connect(ion)? (was )?(refused|reset|lost)|lost connection|no route to host|network (is )?unreachable|too many hops|mail (forwarding )?loop|loops back/i,
  ],
  ['policy', /polic(y|ies)|prohibited|violat(ion|es|ed)|not (allowed|permitted)/i],
  ['syntaxerror', /syntax error|command unrecognized|bad sequence/i],
  ['systemfull', /(system|disk|server) (storage )?(is )?full|insufficient system storage/i],
  [
    'systemerror',
    /system (error|problem)|internal (server )?error|server error|local error|service (is )?(currently )?unavailable|temporar(y|ily) (failure|error|unavailable)|resources? (temporarily )?unavailable/i,
  ],
];

/** The reason the words give, or null when they name none. */
export function reasonFromWords(text: string | null | undefined): string | null {
  if (!text) return null;
  for (const [reason, pattern] of WORDS) if (pattern.test(text)) return reason;
  return null;
}

/** The reason an enhanced status code (RFC 3463) gives on its own, or null when it is too general to say. */
export function reasonFromStatus(status: string | null | undefined): string | null {
  if (!status) return null;
  const [, subject, detail] = status.split('.').map(Number);
  const code = `${subject}.${detail}`;
  const byCode: Record<string, string> = {
    '1.1': 'userunknown',
    '1.2': 'hostunknown',
    '1.3': 'userunknown',
    '1.6': 'hasmoved',
    '1.7': 'rejected',
    '1.8': 'rejected',
    '1.10': 'notaccept',
    '4.4': 'hostunknown',
    '2.1': 'suspend',
    '2.2': 'mailboxfull',
    '2.3': 'mesgtoobig',
    '2.4': 'systemerror',
    '3.1': 'systemfull',
    '3.4': 'mesgtoobig',
    '4.6': 'networkerror',
    '4.7': 'expired',
    '7.1': 'policy',
    '7.23': 'authfailure',
    '7.24': 'authfailure',
    '7.25': 'requireptr',
    '7.26': 'authfailure',
    '7.27': 'notaccept',
  };
  const exact = byCode[code];
  if (exact) return exact;
  switch (subject) {
    case 3:
      return 'systemerror';
    case 4:
      return 'networkerror';
    case 6:
      return 'contenterror';
    case 7:
      return 'securityerror';
    default:
      return null;
  }
}

/**
 * The reason for one failure. The words decide, except that words of an unknown user under a status code about something
 * else than the address (5.1.8 sender, 5.3.0 system, 5.7.1 policy), or given only after the message's content was sent
 * (in reply to DATA), mean a filter refused the message, not that the address is gone.
 */
export function reasonOf(words: string | null, status: string | null, afterData: boolean): string | null {
  const fromStatus = reasonFromStatus(status);
  if (!words) return fromStatus;
  if (words === 'userunknown' || words === 'hostunknown') {
    const [, subject, detail] = (status ?? '').split('.').map(Number);
    const generic = !status || detail === 0;
    if (subject === 1 && fromStatus && ['rejected', 'hasmoved', 'notaccept'].includes(fromStatus)) return fromStatus;
    if (generic) return words === 'userunknown' && afterData ? 'filtered' : words;
    const aboutAddress = subject === 1 || subject === 4 || status === '5.2.1' || status === '4.2.1';
    if (!aboutAddress) return fromStatus ?? 'filtered';
    return words;
  }
  return words;
}

/** Hard only for a permanent failure whose reason says the address itself is unusable. */
export function isHard(reason: string | null, temporary: boolean): boolean {
  return !temporary && reason !== null && HARD_REASONS.has(reason);
}
