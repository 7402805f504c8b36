import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CREW_ROLES, type Actor, type CrewRole } from '../shared/roles.js';
import type { CommandInput } from '../shared/commands.js';
import { ADMIN_ACTOR } from './http/routes.js';

const DEMO_LINEUP = [
  { id: 'p-kettle', name: 'Glass kettle 1.7 l', price: 3999, stock: 120, talkingPoints: ['Boils in 3 minutes', 'Blue light while heating', 'Two-year warranty'] },
  { id: 'p-grinder', name: 'Burr coffee grinder', price: 8999, stock: 40, talkingPoints: ['18 grind settings', 'Quiet motor', 'Free bag of beans today'] },
  { id: 'p-mugs', name: 'Stoneware mugs, set of 4', price: 2499, stock: 300, talkingPoints: ['Dishwasher safe', 'Hand glazed'] },
];

/**
 * A session ready to explore: lineup loaded, in preflight, and one invite link per role.
 * Returns the links so the caller can print them.
 */
export async function seedDemo(app: FastifyInstance, baseUrl: string): Promise<{ sessionId: string; links: Record<CrewRole | 'ingest', string> }> {
  const state = await app.commands.createSession({ title: 'Demo: Kitchen Friday live' }, ADMIN_ACTOR);
  const ops: Actor = { id: 'demo-ops', name: 'Olga (ops)', role: 'ops' };
  const run = async (command: CommandInput) => {
    const { result } = await app.commands.execute(state.id, randomUUID(), command, ops);
    if (!result.ok) throw new Error(`demo setup failed at ${command.kind}: ${result.error.message}`);
  };
  await run({ kind: 'lineup.set', products: DEMO_LINEUP });
  await run({ kind: 'session.start_preflight' });
  const names: Record<CrewRole | 'ingest', string> = {
    host: 'Hana (host)',
    cohost: 'Carlos (cohost)',
    tech: 'Tomás (tech)',
    ops: 'Olga (ops)',
    observer: 'Oren (observer)',
    ingest: 'Chat bot',
  };
  const links = {} as Record<CrewRole | 'ingest', string>;
  for (const role of [...CREW_ROLES, 'ingest'] as const) {
    const { token } = await app.tokens.issue({ sid: state.id, role, sub: `demo-${role}`, name: names[role] });
    links[role] = role === 'ingest' ? token : `${baseUrl}/?session=${state.id}#token=${token}`;
  }
  return { sessionId: state.id, links };
}
