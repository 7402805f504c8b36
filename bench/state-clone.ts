/**
 * How the cost of one `cloneState` (what every `SessionStore.load` does before a command
 * is decided) grows with a session's size: a live state with N questions (and a full
 * health window, a lineup, 8 people present), cloned repeatedly.
 *
 *   npx tsx bench/state-clone.ts
 */
import { performance } from 'node:perf_hooks';
import { HEALTH_WINDOW, type Question, type SessionState } from '../shared/model.js';
import { cloneState, initialState } from '../server/domain/evolve.js';
import { LINEUP } from './targets.js';

function stateWith(questions: number): SessionState {
  const state = initialState('s-clone');
  state.status = 'live';
  state.lineup = LINEUP.map((p) => ({ ...p, currency: 'USD', soldOut: false }));
  for (let i = 0; i < questions; i++) {
    const question: Question = {
      id: `q-${i}`,
      text: `Does product ${(i % 5) + 1} come in blue? (${i})`,
      author: `viewer${i % 977}`,
      source: 'bench',
      externalId: `x-${i}`,
      status: i % 4 === 0 ? 'flagged' : 'new',
      upvotes: 0,
      voters: [],
      pinned: false,
      priority: 0,
      productId: LINEUP[i % LINEUP.length]!.id,
      submittedAt: 1_700_000_000_000 + i,
      flaggedAt: null,
      answeredAt: null,
      dismissedAt: null,
      order: i,
    };
    state.questions[question.id] = question;
  }
  state.questionCount = questions;
  state.health.window = Array.from({ length: HEALTH_WINDOW }, (_, i) => ({
    ts: i,
    bitrateKbps: 4500,
    fps: 30,
    droppedFrames: 0,
  }));
  return state;
}

console.log('| questions in the session | state JSON (KB) | one cloneState (ms) | clones/s on one core |');
console.log('|--:|--:|--:|--:|');
for (const n of [0, 150, 1_000, 5_000, 18_000]) {
  const state = stateWith(n);
  const rounds = Math.max(20, Math.round(20_000 / (n + 10)));
  for (let i = 0; i < 5; i++) cloneState(state);
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) cloneState(state);
  const each = (performance.now() - t0) / rounds;
  const kb = Buffer.byteLength(JSON.stringify(state)) / 1024;
  console.log(
    `| ${n.toLocaleString('en-US')} | ${kb.toFixed(0)} | ${each.toFixed(3)} | ${Math.round(1000 / each).toLocaleString('en-US')} |`,
  );
}
