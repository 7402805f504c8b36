/*
 * The browser build resolves `shared/model.js` to this file when the server's reducer
 * (server/domain/evolve.ts) imports it: the reducer needs one constant, and the real module
 * would pull all of zod into the bundle (~50 kB gzip). test/web-console/connection.test.tsx
 * checks the values match.
 */
export const HEALTH_WINDOW = 60;

/*
 * Copies of the lists the console offers in forms, for the same reason: the originals live
 * beside zod schemas. The same test checks they match shared/.
 */
export const CREW_ROLES = ['host', 'cohost', 'tech', 'ops', 'observer'] as const;
export const SEVERITIES = ['sev1', 'sev2', 'sev3'] as const;
export const INCIDENT_CATEGORIES = [
  'video',
  'audio',
  'network',
  'encoder',
  'platform',
  'product',
  'compliance',
  'other',
] as const;
