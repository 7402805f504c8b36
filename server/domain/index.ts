export { initialState, evolve, foldEvents, cloneState } from './evolve.js';
