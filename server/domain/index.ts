export { initialState, evolve, foldEvents, cloneState } from './evolve.js';
export { decide, stamp, createSessionEvent, DEFAULT_CHECKLIST, type Decision, type DecideContext } from './decide.js';
