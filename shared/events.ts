import { z } from 'zod';
import {
  checklistItemSchema,
  cueSchema,
  healthSampleSchema,
  idSchema,
  incidentSchema,
  presenceEntrySchema,
  productSchema,
  questionSchema,
  questionStatusSchema,
  sessionStatusSchema,
  timestampSchema,
} from './model.js';
import { healthRulesSchema } from './health.js';
import { actorSchema } from './roles.js';

/** Fields every event carries. `seq` is 1, 2, 3… per session, with no gaps. */
export const eventEnvelopeSchema = z.object({
  seq: z.number().int().positive(),
  at: timestampSchema,
  /** The command that produced it (system events carry a server-made id). */
  commandId: z.string(),
  actor: actorSchema,
});
export type EventEnvelope = z.infer<typeof eventEnvelopeSchema>;

/*
 * Events are self-describing: incident and question events carry the whole entity after
 * the change (and, where the host's view depends on it, what it was before), so the role
 * filter never needs the session state and replay, snapshots and the review read the same.
 */
const incidentChange = <K extends string>(kind: K) =>
  z.object({ kind: z.literal(kind), incident: incidentSchema, wasVisibleToHost: z.boolean() });
const questionChange = <K extends string>(kind: K) =>
  z.object({ kind: z.literal(kind), question: questionSchema, previousStatus: questionStatusSchema });

export const eventBodySchemas = {
  'session.created': z.object({
    kind: z.literal('session.created'),
    sessionId: idSchema,
    title: z.string(),
    scheduledFor: timestampSchema.nullable(),
    checklist: z.array(checklistItemSchema),
  }),
  'session.status_changed': z.object({
    kind: z.literal('session.status_changed'),
    from: sessionStatusSchema,
    to: sessionStatusSchema,
    /** Going live with unchecked items: the override and the items skipped. */
    override: z.boolean(),
    uncheckedItems: z.array(z.string()),
    reason: z.string().nullable(),
  }),
  'session.checklist_item_added': z.object({
    kind: z.literal('session.checklist_item_added'),
    item: checklistItemSchema,
  }),
  'session.checklist_item_checked': z.object({
    kind: z.literal('session.checklist_item_checked'),
    item: checklistItemSchema,
  }),
  'session.target_bitrate_set': z.object({
    kind: z.literal('session.target_bitrate_set'),
    targetBitrateKbps: z.number().positive(),
  }),

  'incident.raised': incidentChange('incident.raised'),
  /** A raise with the dedupe key of an unresolved incident: same incident, one more occurrence. */
  'incident.recurred': incidentChange('incident.recurred'),
  'incident.acknowledged': incidentChange('incident.acknowledged'),
  'incident.assigned': incidentChange('incident.assigned'),
  'incident.note_added': incidentChange('incident.note_added'),
  'incident.severity_changed': incidentChange('incident.severity_changed'),
  'incident.pushed_to_host': incidentChange('incident.pushed_to_host'),
  'incident.resolved': incidentChange('incident.resolved'),
  'incident.reopened': incidentChange('incident.reopened'),
  /** The health signal behind an automatic incident breaches again or is good again (`incident.signal`). */
  'incident.signal_changed': incidentChange('incident.signal_changed'),

  'lineup.set': z.object({ kind: z.literal('lineup.set'), products: z.array(productSchema) }),
  'product.switched': z.object({
    kind: z.literal('product.switched'),
    previous: productSchema.nullable(),
    next: productSchema,
  }),
  'product.price_changed': z.object({
    kind: z.literal('product.price_changed'),
    product: productSchema,
    previousPrice: z.number().int(),
  }),
  'product.stock_changed': z.object({
    kind: z.literal('product.stock_changed'),
    product: productSchema,
    previousStock: z.number().int(),
  }),
  'product.sold_out': z.object({ kind: z.literal('product.sold_out'), product: productSchema }),

  'question.submitted': z.object({ kind: z.literal('question.submitted'), question: questionSchema }),
  'question.upvoted': questionChange('question.upvoted'),
  'question.flagged': questionChange('question.flagged'),
  'question.pinned': questionChange('question.pinned'),
  'question.prioritized': questionChange('question.prioritized'),
  'question.answered': questionChange('question.answered'),
  'question.dismissed': questionChange('question.dismissed'),
  'question.restored': questionChange('question.restored'),

  'cue.sent': z.object({ kind: z.literal('cue.sent'), cue: cueSchema }),
  'cue.acknowledged': z.object({ kind: z.literal('cue.acknowledged'), cue: cueSchema, by: z.string() }),

  'health.sampled': z.object({ kind: z.literal('health.sampled'), sample: healthSampleSchema }),
  /** The session's health rules after a change (the whole set). */
  'health.rules_set': z.object({ kind: z.literal('health.rules_set'), rules: healthRulesSchema }),

  /** A person's first console opened. */
  'presence.joined': z.object({ kind: z.literal('presence.joined'), entry: presenceEntrySchema }),
  /** A person who is already present opened or closed another console. */
  'presence.changed': z.object({ kind: z.literal('presence.changed'), entry: presenceEntrySchema }),
  /** A person's last console closed. */
  'presence.left': z.object({ kind: z.literal('presence.left'), entry: presenceEntrySchema }),
} as const;

export type EventKind = keyof typeof eventBodySchemas;
export const EVENT_KINDS = Object.keys(eventBodySchemas) as EventKind[];

type Bodies = typeof eventBodySchemas;
export type EventBody = { [K in EventKind]: z.output<Bodies[K]> }[EventKind];
export type EventBodyOf<K extends EventKind> = Extract<EventBody, { kind: K }>;
export type SessionEvent = EventEnvelope & EventBody;
export type SessionEventOf<K extends EventKind> = EventEnvelope & EventBodyOf<K>;

export const eventBodySchema = z.discriminatedUnion(
  'kind',
  Object.values(eventBodySchemas) as unknown as [Bodies[EventKind], ...Bodies[EventKind][]],
);
/** A whole event: envelope plus body. Typed by hand: zod cannot infer a mapped union of extended objects. */
export const sessionEventSchema = z.discriminatedUnion(
  'kind',
  Object.values(eventBodySchemas).map((body) => body.extend(eventEnvelopeSchema.shape)) as unknown as [
    Bodies[EventKind],
    ...Bodies[EventKind][],
  ],
) as unknown as z.ZodType<SessionEvent>;
