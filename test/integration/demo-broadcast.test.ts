import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionState } from '../../shared/model.js';
import { DEMO_CYCLE_S, DemoBroadcast } from '../../server/demo-broadcast.js';
import { ADMIN_TOKEN, startCueroom, type Cueroom } from '../support/harness.js';
import { seededRandom } from '../support/seeded-random.js';

describe('demo broadcast driver', () => {
  let cr: Cueroom;
  beforeAll(async () => {
    cr = await startCueroom();
  });
  afterAll(async () => {
    await cr?.close();
  });

  it('drives a whole show cycle through the public API, and consoles see it come alive', async () => {
    const id = await cr.createSession('Demo show');
    const ops = await cr.invite(id, 'ops', 'Olga');
    await cr.command(id, ops, {
      kind: 'lineup.set',
      products: [
        { id: 'p-kettle', name: 'Kettle', price: 3999, stock: 120 },
        { id: 'p-grinder', name: 'Grinder', price: 8999, stock: 40 },
        { id: 'p-mugs', name: 'Mugs', price: 2499, stock: 300 },
      ],
    });
    const cohostConsole = await cr.connect(await cr.invite(id, 'cohost', 'Carlos'));
    const techConsole = await cr.connect(await cr.invite(id, 'tech', 'Tomás'));
    await Promise.all([cohostConsole.first('snapshot'), techConsole.first('snapshot')]);

    const errors: Error[] = [];
    const driver = new DemoBroadcast({
      baseUrl: cr.baseUrl,
      adminToken: ADMIN_TOKEN,
      sessionId: id,
      random: seededRandom(7),
      onError: (error) => errors.push(error),
    });
    await driver.prepare();
    for (let t = 0; t < 5 + DEMO_CYCLE_S; t++) await driver.step(t);

    const { body } = await cr.request('GET', `/v1/sessions/${id}`, { token: ops });
    const state = body.state as SessionState;
    expect(state.status).toBe('live');
    const questions = Object.values(state.questions);
    expect(questions.length).toBeGreaterThanOrEqual(30);
    expect(questions.some((q) => q.upvotes > 0)).toBe(true);
    expect(questions.some((q) => q.status === 'answered')).toBe(true);
    expect(questions.every((q) => q.productId !== null)).toBe(true);
    const manual = Object.values(state.incidents).find((i) => i.title === 'Echo on the host mic');
    expect(manual).toMatchObject({ status: 'resolved', pushedToHost: true });
    expect(Object.values(state.cues).some((c) => c.acknowledgedAt !== null)).toBe(true);
    expect(state.health.latest?.viewers).toBeGreaterThan(180);
    expect(errors).toEqual([]);

    const needed = [
      'question.submitted',
      'question.upvoted',
      'product.switched',
      'product.price_changed',
      'product.stock_changed',
      'cue.sent',
    ];
    await cohostConsole.until(
      () => needed.every((kind) => cohostConsole.kinds().includes(kind)),
      5000,
      needed.join(', '),
    );
    await techConsole.until(() => techConsole.kinds().includes('incident.resolved'), 5000, 'the incident resolved');
    expect(techConsole.kinds()).toContain('health.sampled');
    expect(cohostConsole.violations).toEqual([]);
    cohostConsole.close();
    techConsole.close();
  }, 60_000);
});
