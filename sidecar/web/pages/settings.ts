/**
 * Settings per branch (kmc_branch_settings): sender and reply-to addresses,
 * the address printed on letters, the SMS account and sender, SMS quiet
 * hours and the default language; plus two test buttons that send one
 * e-mail through the SMTP adapter and one SMS through the branch's SMS route.
 *
 * The SMS account is an smpp:// URL whose password is never shown back: the
 * page shows the URL without it, and an empty password field keeps the one
 * stored. Likewise the branch's DKIM private key: the page says whether one
 * is stored and which record to publish, never the key.
 */
import type { Request, Response } from 'express';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { parseSmppUrl, type OutgoingMessage, type SendOutcome } from '../../channels';
import type { BranchMailInput, BranchSettingsInput } from '../../branches';
import { dkimKeyOf, dkimRecordText } from '../../config';
import { formOf, textParam, type PageKit, type StaffPage } from '../kit';
import type { Translate } from '../i18n';
import { libraryDay, readSmsSender, type ChannelName } from '../../kernel';
import { SENDER_PREFERENCES, branchAddresses, checkAddress, type AddressInForce, type BranchAddresses } from '../../addresses';
import { branchChannels, channelsFromForm, saveBranchChannels, BRANCH_CHANNEL_TYPES, CHANNEL_CHOICES } from './branch-channels';
import { readdirSync } from 'node:fs';
import { LIBRARY_DEFAULT_LANG, NOTICE_TEMPLATE_DIR } from '../../rendering';
import { isMessageKey } from '../i18n';

/** The languages notices are installed in (one folder of notice texts each), for the default language's choice. */
function installedLangs(): string[] {
  try {
    return readdirSync(NOTICE_TEMPLATE_DIR)
      .filter((d) => LANG.test(d))
      .sort();
  } catch {
    return [LIBRARY_DEFAULT_LANG];
  }
}

/** Whether this branch sends SMS now, and why, as the SMS router decides it. */
type SmsState = 'own_account' | 'library_account' | 'switched_off' | 'no_account' | 'not_set_up';

export type { BranchSettingsInput } from '../../branches';

const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const LANG = /^[a-z]{2}(-[A-Z]{2})?$/;

/** The URL with its password taken out, for showing on the page. */
export function withoutPassword(url: string | null): string {
  if (!url) return '';
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return '';
  }
}

/** The URL with a password put in: the one typed, else the one stored (an empty field keeps it). */
export function withPassword(shownUrl: string, typed: string, storedUrl: string | null): string {
  const u = new URL(shownUrl);
  let password = typed;
  if (!password && storedUrl) {
    try {
      const stored = new URL(storedUrl);
      // Keep the stored password only for the same account: a new host or user needs its own.
      if (stored.host === u.host && stored.username === u.username) password = decodeURIComponent(stored.password);
    } catch {
      password = '';
    }
  }
  u.password = password ? encodeURIComponent(password) : '';
  return u.toString();
}

const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const SELECTOR = /^[A-Za-z0-9_-]{1,63}$/;

/** The branch's mail identity from the form (bounce domain, DKIM key), each error naming its field. */
export function branchMailFromForm(
  body: Record<string, unknown>,
  stored: { dkim_private_key: string | null } | null,
  t: Translate,
): { input: BranchMailInput; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const err = (field: string, key: string) => (errors[field] = t(key, { field: t(`settings.field.${field}`) }));
  const domain = (name: 'bounce_domain' | 'dkim_domain') => {
    const v = textParam(body[name], 253).toLowerCase().replace(/\.$/, '');
    if (v && !DOMAIN_NAME.test(v)) err(name, 'settings.error.domain');
    return v || null;
  };
  const pem = typeof body.dkim_private_key === 'string' ? body.dkim_private_key.replace(/\r\n/g, '\n').trim().slice(0, 10_000) : '';
  const remove = body.dkim_remove === '1';
  const input: BranchMailInput = {
    bounce_domain: domain('bounce_domain'),
    dkim_domain: domain('dkim_domain'),
    dkim_selector: textParam(body.dkim_selector, 63) || null,
    // A typed key replaces the stored one; none keeps it; the box removes it.
    dkim_private_key: pem ? pem : remove ? '' : null,
  };
  if (input.dkim_selector && !SELECTOR.test(input.dkim_selector)) err('dkim_selector', 'settings.error.dkim_selector');
  const keyAfter = input.dkim_private_key === null ? (stored?.dkim_private_key ?? null) : input.dkim_private_key || null;
  if (pem && !errors.dkim_domain && !errors.dkim_selector) {
    const made = dkimKeyOf(input.dkim_domain ?? 'example.org', input.dkim_selector ?? 'x', pem, 'the form');
    if (!made.key) err('dkim_private_key', 'settings.error.dkim_key');
  }
  const parts = [input.dkim_domain, input.dkim_selector, keyAfter].filter(Boolean).length;
  if (parts > 0 && parts < 3 && !Object.keys(errors).length) err('dkim_private_key', 'settings.error.dkim_incomplete');
  return { input, errors };
}

/** Settings from the form, each error naming its field. */
export function branchSettingsFromForm(
  body: Record<string, unknown>,
  stored: { sms_url: string | null } | null,
  t: Translate,
): { input: BranchSettingsInput; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const err = (field: string, key: string) => (errors[field] = t(key, { field: t(`settings.field.${field}`) }));
  const email = (name: 'sender_email' | 'reply_to') => {
    // Read as typed (line breaks included), so the check sees what would be stored.
    const raw = typeof body[name] === 'string' ? body[name].slice(0, 400) : '';
    if (!raw.trim()) return null;
    const check = checkAddress(raw);
    if (check.ok) return check.address;
    errors[name] = t('settings.error.address', { field: t(`settings.field.${name}`), reason: t(`address.problem.${check.problem}`) });
    return raw.trim().slice(0, 320);
  };
  const time = (name: 'quiet_from' | 'quiet_to') => {
    const v = textParam(body[name], 8).slice(0, 5);
    if (v && !TIME.test(v)) err(name, 'settings.error.time');
    return v || null;
  };
  const input: BranchSettingsInput = {
    sender_email: email('sender_email'),
    reply_to: email('reply_to'),
    letter_address:
      (typeof body.letter_address === 'string' ? body.letter_address.replace(/\r\n/g, '\n').trim().slice(0, 2000) : '') || null,
    default_lang: textParam(body.default_lang, 8) || null,
    sms_enabled: body.sms_enabled === '1',
    sms_url: null,
    sms_sender: textParam(body.sms_sender, 20) || null,
    quiet_from: time('quiet_from'),
    quiet_to: time('quiet_to'),
  };
  if (input.default_lang && !LANG.test(input.default_lang)) err('default_lang', 'settings.error.lang');
  const url = textParam(body.sms_url, 255);
  if (url) {
    try {
      input.sms_url = withPassword(
        url,
        typeof body.sms_password === 'string' ? body.sms_password.slice(0, 64) : '',
        stored?.sms_url ?? null,
      );
      parseSmppUrl(input.sms_url);
    } catch {
      err('sms_url', 'settings.error.sms_url');
      input.sms_url = null;
    }
  }
  if (input.sms_sender && !readSmsSender(input.sms_sender).ok) err('sms_sender', 'settings.error.sms_sender');
  if (!!input.quiet_from !== !!input.quiet_to && !errors.quiet_from && !errors.quiet_to) err('quiet_to', 'settings.error.quiet_pair');
  return { input, errors };
}

function outcomeText(t: Translate, o: SendOutcome): { kind: string; text: string } {
  if (o.kind === 'accepted') return { kind: 'success', text: t('settings.test.accepted', { reply: o.reply }) };
  return { kind: 'danger', text: t('settings.test.failed', { reason: o.reason }) };
}

export const settingsPages: StaffPage = {
  nav: [{ id: 'settings', path: '/settings', label: 'nav.settings', permission: 'settings', order: 60 }],
  mount(router, kit: PageKit) {
    const { deps } = kit;
    const allowed = kit.requirePermission('settings');

    const branchOf = async (req: Request): Promise<{ code: string; branches: Array<{ code: string; name: string }> }> => {
      const branches = [...(await deps.host.branches()).values()]
        .map((b) => ({ code: b.branchcode, name: b.branchname }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const asked = textParam(req.method === 'GET' ? req.query.branch : formOf(req).branch, 10);
      return { code: branches.some((b) => b.code === asked) ? asked : '', branches };
    };
    const today = () => libraryDay(deps.clock.now(), deps.settings.timezone);
    /** The sender, reply-to and return path in force for a branch, as a notice run decides them. */
    const addressesOf = async (branchcode: string): Promise<BranchAddresses> => {
      const [branches, own, preferences] = await Promise.all([
        deps.host.branches(),
        deps.branches.find(branchcode),
        deps.host.systemPreferences([...SENDER_PREFERENCES]),
      ]);
      return branchAddresses({ own, branch: branches.get(branchcode) ?? null, preferences, mailFrom: deps.settings.mailFrom });
    };
    const stored = (branchcode: string) => deps.branches.find(branchcode);

    const show = async (
      req: Request,
      res: Response,
      branchcode: string,
      branches: Array<{ code: string; name: string }>,
      values: Partial<BranchSettingsInput> | null,
      extra: Record<string, unknown> = {},
      status = 200,
    ) => {
      const t = kit.staff(res).t;
      const row = branchcode ? await stored(branchcode) : null;
      const v = values ?? row ?? {};
      // The branch's DKIM key: whether one is stored and what to publish for it; the key itself never leaves here.
      const key =
        row?.dkim_domain && row.dkim_selector && row.dkim_private_key
          ? dkimKeyOf(row.dkim_domain, row.dkim_selector, row.dkim_private_key, '').key
          : null;
      const identity = {
        bounce_domain: row?.bounce_domain ?? '',
        dkim_domain: row?.dkim_domain ?? '',
        dkim_selector: row?.dkim_selector ?? '',
        hasKey: !!row?.dkim_private_key,
        publishAt: key ? `${key.selector}._domainkey.${key.domain}` : '',
        publish: key ? dkimRecordText(key) : '',
      };
      const channelRows = branchcode ? await branchChannels(deps.rules, branchcode, today()) : [];
      // What is in force where a field is empty, and where it comes from (Koha's branch record, a setting, the default).
      const kohaBranch = branchcode ? ((await deps.host.branches()).get(branchcode) ?? null) : null;
      const sms = deps.notices.smsAvailability ? await deps.notices.smsAvailability() : null;
      let smsState: SmsState = 'not_set_up';
      if (sms && branchcode) {
        if (sms.canSend(branchcode)) smsState = row?.sms_url ? 'own_account' : 'library_account';
        else smsState = row && !row.sms_enabled ? 'switched_off' : 'no_account';
      }
      const kohaLetterAddress = kohaBranch
        ? [kohaBranch.branchaddress1, kohaBranch.branchaddress2, [kohaBranch.branchzip, kohaBranch.branchcity].filter(Boolean).join(' ')]
            .filter((l) => l?.trim())
            .join(', ')
        : '';
      const smsSender = deps.settings.sms?.sender ?? null;
      const inForceHint = {
        letter_address: kohaLetterAddress
          ? t('settings.in_force', {
              value: kohaLetterAddress,
              source: t('settings.addresses.from.branch_record', { name: kohaBranch?.branchname ?? branchcode }),
            })
          : t('settings.in_force_none'),
        default_lang: t('settings.in_force_lang', { lang: t(`lang.${LIBRARY_DEFAULT_LANG}`) }),
        sms_sender: smsSender
          ? t('settings.in_force', { value: smsSender, source: t('settings.addresses.from.setting', { name: 'KMC_SMS_SENDER' }) })
          : t('settings.in_force_sms_sender'),
        quiet: t('settings.in_force_quiet'),
      };
      const langs = installedLangs().map((code) => ({ code, name: isMessageKey(`lang.${code}`) ? t(`lang.${code}`) : code }));
      // A language stored before the choice existed (sv-SE) stays chosen rather than being lost on the next save.
      if (v.default_lang && !langs.some((l) => l.code === v.default_lang)) langs.push({ code: v.default_lang, name: v.default_lang });
      const inForce = branchcode ? await addressesOf(branchcode) : null;
      const source = (c: AddressInForce['source']) => (c ? t(`settings.addresses.from.${c.kind}`, { name: c.name }) : '');
      const addressRows = inForce
        ? [inForce.sender, inForce.replyTo, inForce.returnPath].map((a) => ({
            role: a.role,
            address: a.address,
            source: source(a.source),
            refused: a.refused.map((r) =>
              t('settings.addresses.refused', {
                value: JSON.stringify(r.candidate.value ?? '').slice(0, 120),
                source: source(r.candidate),
                reason: t(`address.problem.${r.problem}`),
              }),
            ),
          }))
        : [];
      kit.render(
        req,
        res,
        'settings.njk',
        {
          title: t('settings.title'),
          branches,
          branchcode,
          identity,
          values: {
            sender_email: v.sender_email,
            reply_to: v.reply_to,
            letter_address: v.letter_address,
            default_lang: v.default_lang,
            sms_sender: v.sms_sender,
            sms_enabled: !!v.sms_enabled,
            sms_url: withoutPassword(v.sms_url ?? null),
            quiet_from: v.quiet_from ? v.quiet_from.slice(0, 5) : '',
            quiet_to: v.quiet_to ? v.quiet_to.slice(0, 5) : '',
          },
          hasPassword: !!row?.sms_url && !!new URL(row.sms_url).password,
          errors: {},
          errorList: [],
          canTestEmail: !!deps.channels.email,
          canTestSms: !!deps.channels.sms,
          channelRows,
          channelChoices: CHANNEL_CHOICES,
          addressRows,
          inForceHint,
          langs,
          smsState,
          ...extra,
        },
        { status },
      );
    };

    router.get('/settings', allowed, async (req, res) => {
      const { code, branches } = await branchOf(req);
      await show(req, res, code, branches, null);
    });

    router.post('/settings', allowed, async (req, res) => {
      const staff = kit.staff(res);
      const { code, branches } = await branchOf(req);
      if (!code) {
        kit.fail(req, res, 400, 'settings.error.branch');
        return;
      }
      const { input, errors } = branchSettingsFromForm(formOf(req), await stored(code), staff.t);
      if (Object.keys(errors).length) {
        return show(req, res, code, branches, input, { errors, errorList: Object.values(errors) }, 400);
      }
      await deps.branches.save(code, input);
      // Ids and which fields, never addresses: the audit detail holds no contact data.
      await kit.audit.record({
        borrowernumber: staff.account.borrowernumber,
        action: 'settings.save',
        objectType: 'branch',
        objectId: code,
        detail: { fields: Object.keys(input) },
        ip: kit.ip(req),
      });
      deps.logger.info('web.settings.saved', { staff: staff.account.borrowernumber, branch: code });
      res.redirect(303, `/settings?branch=${encodeURIComponent(code)}&done=settings.saved`);
    });

    router.post('/settings/mail-identity', allowed, async (req, res) => {
      const staff = kit.staff(res);
      const { code, branches } = await branchOf(req);
      if (!code) {
        kit.fail(req, res, 400, 'settings.error.branch');
        return;
      }
      const { input, errors } = branchMailFromForm(formOf(req), await stored(code), staff.t);
      if (Object.keys(errors).length) {
        return show(req, res, code, branches, null, { errors, errorList: Object.values(errors) }, 400);
      }
      await deps.branches.saveMail(code, input);
      // Which fields, never the key.
      await kit.audit.record({
        borrowernumber: staff.account.borrowernumber,
        action: 'settings.mail_identity',
        objectType: 'branch',
        objectId: code,
        detail: {
          fields: Object.entries(input)
            .filter(([, value]) => value !== null)
            .map(([k]) => k),
        },
        ip: kit.ip(req),
      });
      deps.logger.info('web.settings.mail_identity_saved', { staff: staff.account.borrowernumber, branch: code });
      res.redirect(303, `/settings?branch=${encodeURIComponent(code)}&done=settings.identity_saved`);
    });

    router.post('/settings/channels', allowed, async (req, res) => {
      const staff = kit.staff(res);
      const { code, branches } = await branchOf(req);
      if (!code) {
        kit.fail(req, res, 400, 'settings.error.branch');
        return;
      }
      const body = formOf(req);
      const wanted = new Map<string, ChannelName[]>();
      try {
        for (const { type, level } of BRANCH_CHANNEL_TYPES) {
          const channels = channelsFromForm(body, `${type}_${level}`);
          if (channels) wanted.set(`${type}_${level}`, channels);
        }
      } catch {
        kit.fail(req, res, 400, 'settings.error.channels_unknown');
        return;
      }
      const { changed, empty } = await saveBranchChannels(deps.rules, code, today(), wanted);
      if (empty.length) {
        const t = staff.t;
        const label = (key: string) => {
          const row = BRANCH_CHANNEL_TYPES.find((r) => `${r.type}_${r.level}` === key);
          if (!row) return key;
          return t(`type.${row.type}`) + (row.level ? ` ${t('message.level', { n: row.level })}` : '');
        };
        const list = empty.map((k) => t('settings.error.channels_empty', { type: label(k) }));
        return show(req, res, code, branches, null, { errors: {}, errorList: list }, 400);
      }
      if (changed.length) {
        await kit.audit.record({
          borrowernumber: staff.account.borrowernumber,
          action: 'settings.channels',
          objectType: 'branch',
          objectId: code,
          detail: { changed },
          ip: kit.ip(req),
        });
        deps.logger.info('web.settings.channels_saved', { staff: staff.account.borrowernumber, branch: code, changed });
      }
      res.redirect(303, `/settings?branch=${encodeURIComponent(code)}&done=settings.channels_saved`);
    });

    router.post('/settings/test', allowed, async (req, res) => {
      const staff = kit.staff(res);
      const t = staff.t;
      const { code, branches } = await branchOf(req);
      if (!code) {
        kit.fail(req, res, 400, 'settings.error.branch');
        return;
      }
      const body = formOf(req);
      const which = body.which === 'sms' ? 'sms' : 'email';
      const row = await stored(code);
      const branch = (await deps.host.branches()).get(code);
      const addresses = which === 'email' ? await addressesOf(code) : null;
      let to = textParam(which === 'sms' ? body.test_phone : body.test_email, 320);
      let result: { kind: string; text: string };
      const adapter = deps.channels[which];
      if (!adapter) {
        result = { kind: 'danger', text: t(which === 'sms' ? 'settings.test.no_sms' : 'settings.test.no_email') };
      } else if (which === 'email' && !EMAIL.test(to)) {
        result = { kind: 'danger', text: t('settings.error.email', { field: t('settings.field.test_email') }) };
      } else {
        if (which === 'sms') {
          const phone = parsePhoneNumberFromString(to, deps.settings.defaultCountry as CountryCode);
          to = phone?.isValid() ? phone.number : '';
        }
        if (!to) {
          result = { kind: 'danger', text: t('settings.error.phone', { field: t('settings.field.test_phone') }) };
        } else {
          const message: OutgoingMessage = {
            id: 0,
            channel: which,
            to,
            // The test e-mail goes out as a notice would: with the addresses in force, each checked.
            from: which === 'sms' ? (row?.sms_sender ?? '') : (addresses?.sender.address ?? ''),
            replyTo: addresses?.replyTo.address ?? null,
            subject: t('settings.test.subject', { branch: branch?.branchname ?? code }),
            text: t('settings.test.text', { branch: branch?.branchname ?? code }),
            branchcode: code,
          };
          try {
            result = outcomeText(t, await adapter.send(message));
          } catch (err) {
            result = { kind: 'danger', text: t('settings.test.failed', { reason: (err as Error).message }) };
          }
        }
      }
      await kit.audit.record({
        borrowernumber: staff.account.borrowernumber,
        action: `settings.test_${which}`,
        objectType: 'branch',
        objectId: code,
        detail: { outcome: result.kind },
        ip: kit.ip(req),
      });
      deps.logger.info('web.settings.test', { staff: staff.account.borrowernumber, branch: code, channel: which, outcome: result.kind });
      await show(req, res, code, branches, null, {
        testResult: result,
        testEmail: which === 'email' ? to : '',
        testPhone: which === 'sms' ? textParam(body.test_phone, 32) : '',
      });
    });
  },
};
