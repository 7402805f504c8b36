import { z } from 'zod';
import { destinationSchema, healthRuleNameSchema, healthRulesSchema } from './health.js';
import { crewRoleSchema } from './roles.js';

/** Identifiers chosen by clients (or derived from the command id): short, printable, no spaces. */
export const idSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/, 'use letters, digits, dot, dash, underscore or colon');

/** Milliseconds since the Unix epoch. */
export const timestampSchema = z.number().int().nonnegative();

export const SESSION_STATUSES = ['scheduled', 'preflight', 'live', 'ended'] as const;
export const sessionStatusSchema = z.enum(SESSION_STATUSES);
export type SessionStatus = z.infer<typeof sessionStatusSchema>;

export const checklistItemSchema = z.object({
  id: idSchema,
  label: z.string().min(1).max(200),
  checked: z.boolean(),
  checkedBy: z.string().nullable(),
  checkedAt: timestampSchema.nullable(),
});
export type ChecklistItem = z.infer<typeof checklistItemSchema>;

export const productInputSchema = z.object({
  id: idSchema,
  name: z.string().min(1).max(200),
  /** Price in minor units (cents) to keep arithmetic exact. */
  price: z.number().int().nonnegative(),
  currency: z.string().length(3).default('USD'),
  stock: z.number().int().nonnegative(),
  talkingPoints: z.array(z.string().min(1).max(500)).max(20).default([]),
});
export type ProductInput = z.input<typeof productInputSchema>;
export const productSchema = productInputSchema.extend({ soldOut: z.boolean() });
export type Product = z.infer<typeof productSchema>;

export const QUESTION_STATUSES = ['new', 'flagged', 'answered', 'dismissed'] as const;
export const questionStatusSchema = z.enum(QUESTION_STATUSES);
export type QuestionStatus = z.infer<typeof questionStatusSchema>;

export const questionSchema = z.object({
  id: idSchema,
  text: z.string().min(1).max(1000),
  author: z.string().min(1).max(128),
  /** Where it came from: `chat` for ingest, `crew` when typed by the crew, or an integration name. */
  source: z.string().min(1).max(64),
  externalId: z.string().max(128).nullable(),
  status: questionStatusSchema,
  upvotes: z.number().int().nonnegative(),
  voters: z.array(z.string()),
  pinned: z.boolean(),
  priority: z.number().int().min(0).max(3),
  /** The product on screen when the question arrived. */
  productId: z.string().nullable(),
  submittedAt: timestampSchema,
  flaggedAt: timestampSchema.nullable(),
  answeredAt: timestampSchema.nullable(),
  dismissedAt: timestampSchema.nullable(),
  /** Arrival order within the session, for "oldest first". */
  order: z.number().int().nonnegative(),
});
export type Question = z.infer<typeof questionSchema>;

export const healthSampleSchema = z.object({
  ts: timestampSchema,
  bitrateKbps: z.number().nonnegative(),
  fps: z.number().nonnegative(),
  droppedFrames: z.number().int().nonnegative(),
  rttMs: z.number().nonnegative().optional(),
  viewers: z.number().int().nonnegative().optional(),
  encoderCpu: z.number().min(0).max(100).optional(),
  /** Where the stream goes, each with its vendor's status word; the session shows the worst. */
  destinations: z.array(destinationSchema).max(20).optional(),
});
export type HealthSample = z.infer<typeof healthSampleSchema>;

export const incidentSignalSchema = z.object({
  rule: healthRuleNameSchema,
  /** False once the signal is good again (the incident then resolves itself after the hysteresis time). */
  breaching: z.boolean(),
  since: timestampSchema,
  clearedAt: timestampSchema.nullable(),
  /** The sample that breached (null for the watchdog: there was none). */
  sample: healthSampleSchema.nullable(),
  context: z.object({
    productId: z.string().nullable(),
    productName: z.string().nullable(),
    viewers: z.number().int().nonnegative().nullable(),
    /** Names of the tech crew present when it breached. */
    techOnDuty: z.array(z.string()),
  }),
});
export type IncidentSignal = z.infer<typeof incidentSignalSchema>;

export const SEVERITIES = ['sev1', 'sev2', 'sev3'] as const;
export const severitySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severitySchema>;
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
export const incidentCategorySchema = z.enum(INCIDENT_CATEGORIES);
export const INCIDENT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export const incidentStatusSchema = z.enum(INCIDENT_STATUSES);
export type IncidentStatus = z.infer<typeof incidentStatusSchema>;

export const incidentNoteSchema = z.object({
  by: z.string(),
  text: z.string(),
  at: timestampSchema,
});

export const incidentSchema = z.object({
  id: idSchema,
  severity: severitySchema,
  category: incidentCategorySchema,
  title: z.string().min(1).max(200),
  detail: z.string().max(2000),
  status: incidentStatusSchema,
  raisedBy: z.string(),
  assignee: z.string().nullable(),
  /** Automatic incidents carry a dedupe key: one outage is one incident. */
  dedupeKey: z.string().nullable(),
  /** Times the same dedupe key was raised again while this incident was open. */
  occurrences: z.number().int().positive(),
  pushedToHost: z.boolean(),
  raisedAt: timestampSchema,
  acknowledgedAt: timestampSchema.nullable(),
  resolvedAt: timestampSchema.nullable(),
  reopenedAt: timestampSchema.nullable(),
  notes: z.array(incidentNoteSchema),
  /** Set on incidents the health rules raised: the rule, whether it still breaches, and what was on air. */
  signal: incidentSignalSchema.nullable().optional(),
});
export type Incident = z.infer<typeof incidentSchema>;

export const cueSchema = z.object({
  id: idSchema,
  text: z.string().min(1).max(280),
  to: z.array(crewRoleSchema).min(1),
  from: z.string(),
  fromRole: crewRoleSchema,
  sentAt: timestampSchema,
  /** Who acknowledged, by role; a cue stays visible until every addressed role acknowledged. */
  acknowledgedBy: z.record(z.string(), z.string()),
  acknowledgedAt: timestampSchema.nullable(),
});
export type Cue = z.infer<typeof cueSchema>;

export const presenceEntrySchema = z.object({
  personId: z.string(),
  name: z.string(),
  role: crewRoleSchema,
  /** Open consoles of this person (a person with two tabs is one entry with two consoles). */
  consoles: z.array(z.string()),
  since: timestampSchema,
});
export type PresenceEntry = z.infer<typeof presenceEntrySchema>;

/** How many health samples the session keeps in its rolling window. */
export const HEALTH_WINDOW = 60;

export const sessionStateSchema = z.object({
  id: idSchema,
  title: z.string(),
  status: sessionStatusSchema,
  /** The seq of the last event folded into this state. */
  seq: z.number().int().nonnegative(),
  createdAt: timestampSchema,
  scheduledFor: timestampSchema.nullable(),
  preflightAt: timestampSchema.nullable(),
  liveAt: timestampSchema.nullable(),
  endedAt: timestampSchema.nullable(),
  checklist: z.array(checklistItemSchema),
  lineup: z.array(productSchema),
  currentProductId: z.string().nullable(),
  questions: z.record(z.string(), questionSchema),
  incidents: z.record(z.string(), incidentSchema),
  cues: z.record(z.string(), cueSchema),
  health: z.object({
    latest: healthSampleSchema.nullable(),
    window: z.array(healthSampleSchema),
    targetBitrateKbps: z.number().positive().nullable(),
    /** The session's health rules; absent or null means the defaults (DEFAULT_HEALTH_RULES). */
    rules: healthRulesSchema.nullable().optional(),
  }),
  presence: z.record(z.string(), presenceEntrySchema),
  /** Counter behind `Question.order`. */
  questionCount: z.number().int().nonnegative(),
});
export type SessionState = z.infer<typeof sessionStateSchema>;
