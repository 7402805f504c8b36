export * from './roles.js';
export * from './errors.js';
export * from './model.js';
export * from './commands.js';
export * from './events.js';
export * from './permissions.js';
export * from './audience.js';
export * from './protocol.js';
