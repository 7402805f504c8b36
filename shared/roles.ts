import { z } from 'zod';

/** Crew roles that keep a console open during a broadcast. */
export const CREW_ROLES = ['host', 'cohost', 'tech', 'ops', 'observer'] as const;
/** Every role a token can carry: the crew plus machines posting through `ingest`. */
export const ROLES = [...CREW_ROLES, 'ingest'] as const;

export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;
export const crewRoleSchema = z.enum(CREW_ROLES);
export type CrewRole = z.infer<typeof crewRoleSchema>;

/**
 * Who did something. `system` is the server itself (presence, automatic incidents);
 * no token can carry it.
 */
export const actorSchema = z.object({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(128),
  role: z.union([roleSchema, z.literal('system')]),
});
export type Actor = z.infer<typeof actorSchema>;
