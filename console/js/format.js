// Display helpers: roles, dates, durations.

export const ROLES = [
  ['ece_platform_admin', 'Platform admin', 'Full control: account, users, roles and everybody\u2019s API keys.'],
  ['ece_platform_viewer', 'Platform viewer', 'Read-only access to the account, users and API keys.'],
  ['ece_deployment_manager', 'Deployment manager', 'Manages deployments; reads the account.'],
  ['ece_deployment_viewer', 'Deployment viewer', 'Views deployments; reads the account.'],
];

/**
 * The directory realm an external user signs in through ({id, type}), or null for native users
 * (whose security_realm is {type: 'native'}). The API refuses to change external users
 * (user.cannot_modify_external): their profile and roles come from the directory.
 */
export function externalRealm(user) {
  const realm = user?.security?.security_realm;
  return realm && realm.type !== 'native' ? realm : null;
}

export const realmTypeLabel = (type) => ({ native: 'Native', ldap: 'LDAP', active_directory: 'Active Directory', saml: 'SAML' })[type] || type;

export function roleLabel(role) {
  const r = ROLES.find(([id]) => id === role);
  return r ? r[1] : role;
}

// Every date carries its time zone; the exact time (with seconds and UTC) is in titles.
const dateFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
});
const exactFmt = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', year: 'numeric', month: 'long', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'long',
});
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });

const valid = (iso) => iso && !Number.isNaN(new Date(iso).getTime());

/** "Nov 29, 2026, 03:02 PM UTC". */
export function formatDate(iso) {
  if (!iso) return '';
  return valid(iso) ? dateFmt.format(new Date(iso)) : iso;
}

/** "Sun, November 29, 2026 at 03:02:45 PM Coordinated Universal Time (2026-11-29T15:02:45Z)". */
export function exactDate(iso) {
  if (!valid(iso)) return iso || '';
  const d = new Date(iso);
  return `${exactFmt.format(d)} (${d.toISOString().replace(/\.\d{3}Z$/, 'Z')})`;
}

/** "03:02 PM UTC". */
export function formatTime(iso) {
  return valid(iso) ? timeFmt.format(new Date(iso)) : '';
}

const rel = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const UNITS = [['year', 31536e6], ['month', 2592e6], ['week', 6048e5], ['day', 864e5], ['hour', 36e5], ['minute', 6e4]];

/** "in 3 days", "2 hours ago". */
export function relative(iso, now = Date.now()) {
  const diff = new Date(iso).getTime() - now;
  for (const [unit, ms] of UNITS) {
    // 0.95: 23 h 59 min reads "in 1 day", not "in 24 hours".
    if (Math.abs(diff) >= ms * 0.95) return rel.format(Math.round(diff / ms), unit);
  }
  return diff >= 0 ? 'in less than a minute' : 'just now';
}

export const EXPIRATIONS = [
  ['30m', '30 minutes'],
  ['1h', '1 hour'],
  ['1d', '1 day'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['90d', '90 days'],
  ['365d', '1 year'],
  ['never', 'Never expires'],
];
