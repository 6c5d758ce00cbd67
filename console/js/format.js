// Display helpers: roles, dates, durations.

export const ROLES = [
  ['ece_platform_admin', 'Platform admin', 'Full control: account, users, roles and everybody\u2019s API keys.'],
  ['ece_platform_viewer', 'Platform viewer', 'Read-only access to the account, users and API keys.'],
  ['ece_deployment_manager', 'Deployment manager', 'Manages deployments; reads the account.'],
  ['ece_deployment_viewer', 'Deployment viewer', 'Views deployments; reads the account.'],
];

export function roleLabel(role) {
  const r = ROLES.find(([id]) => id === role);
  return r ? r[1] : role;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d);
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
