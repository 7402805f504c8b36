/*
 * The browser build resolves `shared/model.js` to this file when the server's reducer
 * (server/domain/evolve.ts) imports it: the reducer needs one constant, and the real module
 * would pull all of zod into the bundle (~50 kB gzip). test/web-console/bundle-shim.test.ts
 * checks the value matches.
 */
export const HEALTH_WINDOW = 60;
