import { z } from 'zod';
import { healthRuleNameSchema, healthRulesPatchSchema } from './health.js';
import {
  healthSampleSchema,
  incidentSignalSchema,
  idSchema,
  incidentCategorySchema,
  productInputSchema,
  severitySchema,
} from './model.js';
import { crewRoleSchema } from './roles.js';

const text = (max: number) => z.string().trim().min(1).max(max);

/**
 * Every command a console or an integration can send, keyed by `kind`. Entity ids
 * (incident, question, cue) are optional: when absent the server derives them from the
 * command id, so a retried command names the same entity.
 */
export const commandSchemas = {
  'session.start_preflight': z.object({ kind: z.literal('session.start_preflight') }),
  'session.add_checklist_item': z.object({
    kind: z.literal('session.add_checklist_item'),
    itemId: idSchema,
    label: text(200),
  }),
  'session.check_item': z.object({
    kind: z.literal('session.check_item'),
    itemId: idSchema,
    checked: z.boolean().default(true),
  }),
  'session.go_live': z.object({
    kind: z.literal('session.go_live'),
    /** Going live with unchecked items needs an explicit, audited override with a reason. */
    override: z.boolean().default(false),
    reason: z.string().trim().max(500).optional(),
  }),
  'session.end': z.object({ kind: z.literal('session.end') }),
  'session.set_target_bitrate': z.object({
    kind: z.literal('session.set_target_bitrate'),
    targetBitrateKbps: z.number().positive().max(1_000_000),
  }),

  'incident.raise': z.object({
    kind: z.literal('incident.raise'),
    incidentId: idSchema.optional(),
    severity: severitySchema,
    category: incidentCategorySchema,
    title: text(200),
    detail: z.string().max(2000).default(''),
    /** A repeated raise with the key of an unresolved incident updates it instead of opening another. */
    dedupeKey: z.string().min(1).max(128).optional(),
    pushToHost: z.boolean().default(false),
  }),
  'incident.acknowledge': z.object({ kind: z.literal('incident.acknowledge'), incidentId: idSchema }),
  'incident.assign': z.object({
    kind: z.literal('incident.assign'),
    incidentId: idSchema,
    assignee: z.string().trim().min(1).max(128).nullable(),
  }),
  'incident.add_note': z.object({ kind: z.literal('incident.add_note'), incidentId: idSchema, text: text(2000) }),
  'incident.set_severity': z.object({
    kind: z.literal('incident.set_severity'),
    incidentId: idSchema,
    severity: severitySchema,
  }),
  'incident.push_to_host': z.object({
    kind: z.literal('incident.push_to_host'),
    incidentId: idSchema,
    pushed: z.boolean().default(true),
  }),
  'incident.resolve': z.object({
    kind: z.literal('incident.resolve'),
    incidentId: idSchema,
    resolution: z.string().trim().max(2000).optional(),
    /**
     * Resolve an incident the health rules raised while its signal still breaches. Refused
     * without it; with it, the override is in the audit log with the command.
     */
    force: z.boolean().default(false),
  }),
  'incident.reopen': z.object({ kind: z.literal('incident.reopen'), incidentId: idSchema }),

  'lineup.set': z.object({
    kind: z.literal('lineup.set'),
    products: z.array(productInputSchema).max(200),
  }),
  'product.switch': z.object({ kind: z.literal('product.switch'), productId: idSchema }),
  'product.set_price': z.object({
    kind: z.literal('product.set_price'),
    productId: idSchema,
    price: z.number().int().nonnegative(),
  }),
  'product.set_stock': z.object({
    kind: z.literal('product.set_stock'),
    productId: idSchema,
    stock: z.number().int().nonnegative(),
  }),

  'question.submit': z.object({
    kind: z.literal('question.submit'),
    questionId: idSchema.optional(),
    text: text(1000),
    author: text(128),
    source: z.string().trim().min(1).max(64).optional(),
    externalId: z.string().trim().min(1).max(128).optional(),
  }),
  'question.upvote': z.object({ kind: z.literal('question.upvote'), questionId: idSchema, voter: text(128) }),
  'question.flag': z.object({ kind: z.literal('question.flag'), questionId: idSchema }),
  'question.pin': z.object({
    kind: z.literal('question.pin'),
    questionId: idSchema,
    pinned: z.boolean().default(true),
  }),
  'question.set_priority': z.object({
    kind: z.literal('question.set_priority'),
    questionId: idSchema,
    priority: z.number().int().min(0).max(3),
  }),
  'question.answer': z.object({ kind: z.literal('question.answer'), questionId: idSchema }),
  'question.dismiss': z.object({ kind: z.literal('question.dismiss'), questionId: idSchema }),
  'question.restore': z.object({ kind: z.literal('question.restore'), questionId: idSchema }),

  'cue.send': z.object({
    kind: z.literal('cue.send'),
    cueId: idSchema.optional(),
    to: z.array(crewRoleSchema).min(1).max(5),
    text: text(280),
  }),
  'cue.acknowledge': z.object({ kind: z.literal('cue.acknowledge'), cueId: idSchema }),

  'health.sample': z.object({ kind: z.literal('health.sample'), sample: healthSampleSchema }),
  /** Changes the session's health rules, rule by rule (fields left out keep their value). */
  'health.set_rules': z.object({ kind: z.literal('health.set_rules'), rules: healthRulesPatchSchema }),
} as const;

export type CommandKind = keyof typeof commandSchemas;
export const COMMAND_KINDS = Object.keys(commandSchemas) as CommandKind[];

type Schemas = typeof commandSchemas;
export const commandSchema = z.discriminatedUnion(
  'kind',
  Object.values(commandSchemas) as unknown as [Schemas[CommandKind], ...Schemas[CommandKind][]],
);
export type Command = { [K in CommandKind]: z.output<Schemas[K]> }[CommandKind];
export type CommandInput = { [K in CommandKind]: z.input<Schemas[K]> }[CommandKind];
export type CommandOf<K extends CommandKind> = Extract<Command, { kind: K }>;

/** Commands the server issues for itself (presence); no token may send them. */
export const systemCommandSchemas = {
  'presence.open': z.object({
    kind: z.literal('presence.open'),
    personId: z.string(),
    name: z.string(),
    role: crewRoleSchema,
    consoleId: z.string(),
  }),
  'presence.close': z.object({ kind: z.literal('presence.close'), personId: z.string(), consoleId: z.string() }),
  /** A health rule breached: raises the incident of `dedupeKey`, or marks its open incident breaching again. */
  'signal.breach': z.object({
    kind: z.literal('signal.breach'),
    dedupeKey: z.string().min(1).max(128),
    severity: severitySchema,
    category: incidentCategorySchema,
    title: z.string().min(1).max(200),
    detail: z.string().max(2000),
    signal: incidentSignalSchema,
  }),
  /** The rule's signal is good again; the incident stays open until the hysteresis time passed. */
  'signal.clear': z.object({
    kind: z.literal('signal.clear'),
    dedupeKey: z.string().min(1).max(128),
    rule: healthRuleNameSchema,
  }),
  /** Good for the hysteresis time: the incident resolves itself. */
  'signal.resolve': z.object({
    kind: z.literal('signal.resolve'),
    dedupeKey: z.string().min(1).max(128),
    rule: healthRuleNameSchema,
    resolution: z.string().max(2000),
  }),
} as const;
export type SystemCommand = {
  [K in keyof typeof systemCommandSchemas]: z.output<(typeof systemCommandSchemas)[K]>;
}[keyof typeof systemCommandSchemas];

/** The command id is the idempotency key: the same id is applied once and answered the same every time. */
export const commandIdSchema = z
  .string()
  .min(8)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/, 'use letters, digits, dot, dash, underscore or colon (a UUID fits)');
