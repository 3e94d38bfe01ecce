/**
 * What a staff member may do on the sidecar's pages, from Koha's own
 * permissions: the module bits in `borrowers.flags` (a set bit grants the
 * whole module) and the sub-permissions in `user_permissions`. Pure.
 *
 * The mapping (also in the README):
 *
 *   sign in          superlibrarian, or catalogue (Koha's staff interface access)
 *   routines         tools, or tools › edit_notice_status_triggers
 *   templates        tools, or tools › edit_notices; parameters
 *   rules            parameters, or parameters › manage_circ_rules;
 *                    tools › edit_notice_status_triggers (Koha's overdue triggers)
 *   settings         parameters, or parameters › manage_sysprefs
 *   queue            circulate, or circulate › circulate_remaining_permissions; tools
 *   patron_messages  circulate, borrowers, tools, or borrowers › edit_borrowers,
 *   (archive, patron borrowers › view_borrower_infos_from_any_libraries,
 *    tab)            circulate › circulate_remaining_permissions
 *   audit            superlibrarian only
 *
 * Staff pages part 2 split the rule and template pages into what may be
 * seen and what may be changed (the wider the Koha grant, the more):
 *
 *   rules_change     parameters, parameters › manage_circ_rules,
 *                    tools › edit_notice_status_triggers
 *   rules_add        parameters, or parameters › manage_circ_rules
 *   rules_remove     parameters (the whole module) only
 *   templates_edit   parameters, or tools › edit_notices (the tools module
 *                    alone lets staff read templates and preview them)
 *   dashboard        tools, circulate, or circulate › circulate_remaining_permissions
 *
 * With kmc_settings `rules_own_branch_only` = 1, changing, adding and
 * removing rules is further limited to the staff member's own Koha branch.
 *
 * A superlibrarian may do everything.
 */

/** Koha's permission modules, by their bit in borrowers.flags (userflags.bit). */
export const KOHA_MODULE_BITS = {
  superlibrarian: 0,
  circulate: 1,
  catalogue: 2,
  parameters: 3,
  borrowers: 4,
  permissions: 5,
  tools: 13,
  plugins: 19,
} as const;
export type KohaModule = keyof typeof KOHA_MODULE_BITS;

export const PERMISSIONS = [
  'routines',
  'templates',
  'rules',
  'settings',
  'queue',
  'patron_messages',
  'audit',
  'rules_add',
  'rules_change',
  'rules_remove',
  'templates_edit',
  'dashboard',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** A grant: a whole module, or one sub-permission of it. */
type Grant = { module: KohaModule; code?: string };

export const PERMISSION_GRANTS: Record<Permission, readonly Grant[]> = {
  routines: [{ module: 'tools' }, { module: 'tools', code: 'edit_notice_status_triggers' }],
  templates: [{ module: 'tools' }, { module: 'tools', code: 'edit_notices' }, { module: 'parameters' }],
  rules: [
    { module: 'parameters' },
    { module: 'parameters', code: 'manage_circ_rules' },
    { module: 'tools', code: 'edit_notice_status_triggers' },
  ],
  settings: [{ module: 'parameters' }, { module: 'parameters', code: 'manage_sysprefs' }],
  queue: [{ module: 'circulate' }, { module: 'circulate', code: 'circulate_remaining_permissions' }, { module: 'tools' }],
  patron_messages: [
    { module: 'circulate' },
    { module: 'borrowers' },
    { module: 'tools' },
    { module: 'borrowers', code: 'edit_borrowers' },
    { module: 'borrowers', code: 'view_borrower_infos_from_any_libraries' },
    { module: 'circulate', code: 'circulate_remaining_permissions' },
  ],
  audit: [],
  rules_change: [
    { module: 'parameters' },
    { module: 'parameters', code: 'manage_circ_rules' },
    { module: 'tools', code: 'edit_notice_status_triggers' },
  ],
  rules_add: [{ module: 'parameters' }, { module: 'parameters', code: 'manage_circ_rules' }],
  rules_remove: [{ module: 'parameters' }],
  templates_edit: [{ module: 'parameters' }, { module: 'tools', code: 'edit_notices' }],
  dashboard: [{ module: 'tools' }, { module: 'circulate' }, { module: 'circulate', code: 'circulate_remaining_permissions' }],
};

/**
 * True when the bit is set. borrowers.flags is a BIGINT, so bits above 31
 * are read with arithmetic rather than 32-bit operators.
 */
export function hasModule(flags: number, module: KohaModule): boolean {
  const bit = KOHA_MODULE_BITS[module];
  return Math.floor(Math.max(0, flags) / 2 ** bit) % 2 === 1;
}

/** Koha lets into the staff interface only those with `catalogue` (or superlibrarian). */
export function hasStaffAccess(flags: number): boolean {
  return hasModule(flags, 'superlibrarian') || hasModule(flags, 'catalogue');
}

export function permissionsOf(flags: number, sub: ReadonlyArray<{ module_bit: number; code: string }>): Set<Permission> {
  const out = new Set<Permission>();
  if (!hasStaffAccess(flags)) return out;
  if (hasModule(flags, 'superlibrarian')) return new Set(PERMISSIONS);
  const subs = new Set(sub.map((s) => `${s.module_bit}:${s.code}`));
  for (const permission of PERMISSIONS) {
    const granted = PERMISSION_GRANTS[permission].some((g) =>
      g.code === undefined ? hasModule(flags, g.module) : subs.has(`${KOHA_MODULE_BITS[g.module]}:${g.code}`),
    );
    if (granted) out.add(permission);
  }
  return out;
}
