import type { Question, SessionState } from '../../shared/model.js';

type Questions = SessionState['questions'];

/**
 * Questions by (source, external id), so that deduplicating a chat message does not scan
 * every question of the session (an hour of a show at 5 questions/s is 18,000). Kept beside
 * the state, not in it: keyed by the session's `questions` object, which `evolve` edits in
 * place and tells about each new question; a state that arrives some other way (a
 * snapshot, a copy) gets its index built once, on first use. Source and external id never
 * change after a question is submitted.
 */
const indexes = new WeakMap<Questions, Map<string, string>>();

const keyOf = (source: string, externalId: string) => `${source}\u0000${externalId}`;

export function questionByExternalId(questions: Questions, source: string, externalId: string): Question | undefined {
  let index = indexes.get(questions);
  if (!index) {
    index = new Map();
    for (const question of Object.values(questions)) {
      if (question.externalId !== null) index.set(keyOf(question.source, question.externalId), question.id);
    }
    indexes.set(questions, index);
  }
  const id = index.get(keyOf(source, externalId));
  return id === undefined ? undefined : questions[id];
}

/** Called by `evolve` when a question joins `questions`: keeps an existing index current. */
export function indexQuestion(questions: Questions, question: Question): void {
  if (question.externalId !== null) indexes.get(questions)?.set(keyOf(question.source, question.externalId), question.id);
}
