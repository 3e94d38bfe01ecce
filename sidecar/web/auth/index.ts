// Staff sign-in: launch tokens, passwords, sessions, permissions, CSRF.
export {
  PERMISSIONS,
  authRoutes,
  createAuthParts,
  csrfGuard,
  hasStaffAccess,
  loadStaff,
  permissionsOf,
  requireSignIn,
  sessionCookiePolicy,
  sessionRoutes,
  type AuthParts,
  type CookiePolicy,
  type Permission,
} from './signin';
