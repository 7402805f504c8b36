import { z } from 'zod';
import { destinationSchema } from '../../shared/health.js';
import type { HealthSample } from '../../shared/model.js';

/**
 * The JSON an encoder script writes, one object per line, to `npm run agent -- push`
 * (or posts to its `--listen` port). Only `bitrateKbps` is required; `ts` defaults to the
 * time the agent read it; `status` is a single destination's vendor status word.
 *
 *   {"bitrateKbps": 4200, "fps": 30, "droppedFrames": 0, "viewers": 812, "status": "good"}
 */
export const pushSampleSchema = z.object({
  ts: z.number().int().nonnegative().optional(),
  bitrateKbps: z.number().nonnegative(),
  fps: z.number().nonnegative().default(0),
  droppedFrames: z.number().int().nonnegative().default(0),
  rttMs: z.number().nonnegative().optional(),
  viewers: z.number().int().nonnegative().optional(),
  encoderCpu: z.number().min(0).max(100).optional(),
  status: z.string().min(1).max(32).optional(),
  destinations: z.array(destinationSchema).max(20).optional(),
});
export type PushSample = z.input<typeof pushSampleSchema>;

/** Parses one pushed line into a sample; throws with a readable message when it is not one. */
export function parsePushLine(line: string, now: number): HealthSample {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new Error(`not JSON: ${line.slice(0, 80)}`);
  }
  const parsed = pushSampleSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`not a sample: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
  }
  const { status, destinations, ts, ...rest } = parsed.data;
  const all = [...(destinations ?? []), ...(status ? [{ id: 'push', status }] : [])];
  return { ...rest, ts: ts ?? now, ...(all.length ? { destinations: all } : {}) };
}
