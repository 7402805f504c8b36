import { describe, expect, it } from 'vitest';
import type { CommandInput } from '../../shared/commands.js';
import { Room, cohost, expectReplayMatches, host, ingest, ops } from './domain-harness.js';
import { cloneState } from '../../server/domain/index.js';

type Submit = Extract<CommandInput, { kind: 'question.submit' }>;
const ask = (fields: Partial<Submit> = {}): Submit => ({
  kind: 'question.submit',
  text: 'Is the kettle dishwasher safe?',
  author: 'viewer42',
  ...fields,
});

const liveRoom = () => new Room().goLive().lineup();

describe('submitting questions', () => {
  it('files a new question under the command id, in arrival order, about the product on screen', () => {
    const room = liveRoom();
    room.ok(cohost, { kind: 'product.switch', productId: 'p1' });
    room.ok(ingest, ask(), 'cmd-q1');
    room.ok(ingest, ask({ text: 'Does it come in red?' }), 'cmd-q2');
    expect(room.state.questions['cmd-q1']).toEqual({
      id: 'cmd-q1',
      text: 'Is the kettle dishwasher safe?',
      author: 'viewer42',
      source: 'chat',
      externalId: null,
      status: 'new',
      upvotes: 0,
      voters: [],
      pinned: false,
      priority: 0,
      productId: 'p1',
      submittedAt: room.now - 1000,
      flaggedAt: null,
      answeredAt: null,
      dismissedAt: null,
      order: 1,
    });
    expect(room.state.questions['cmd-q2']?.order).toBe(2);
    expect(room.state.questionCount).toBe(2);
  });

  it('says where it came from: chat for ingest, crew for the crew, or what the sender names', () => {
    const room = liveRoom();
    room.ok(ingest, ask({ questionId: 'q1' }));
    room.ok(cohost, ask({ questionId: 'q2' }));
    room.ok(ingest, ask({ questionId: 'q3', source: 'shop' }));
    expect(['q1', 'q2', 'q3'].map((id) => room.state.questions[id]?.source)).toEqual(['chat', 'crew', 'shop']);
    expect(room.state.questions.q1?.productId).toBeNull();
  });

  it('refuses a chat message received twice, naming the question it became', () => {
    const room = liveRoom();
    room.ok(ingest, ask({ questionId: 'q1', externalId: 'yt-123' }));
    expect(room.refused(ingest, ask({ externalId: 'yt-123' }))).toMatchObject({
      code: 'conflict',
      message: expect.stringContaining("question 'q1'"),
    });
    // The same external id from another source is another message.
    room.ok(ingest, ask({ questionId: 'q2', externalId: 'yt-123', source: 'twitch' }));
    expect(room.state.questionCount).toBe(2);
  });

  it('recognizes a repeated chat message submitted after many others, and in a copied or restored state', () => {
    const room = liveRoom();
    for (let n = 1; n <= 50; n++) room.ok(ingest, ask({ questionId: `q${n}`, externalId: `yt-${n}` }));
    expect(room.refused(ingest, ask({ externalId: 'yt-7' })).message).toContain("question 'q7'");
    room.ok(ingest, ask({ questionId: 'q51', externalId: 'yt-51' })); // after the lookup above
    expect(room.refused(ingest, ask({ externalId: 'yt-51' })).message).toContain("question 'q51'");
    // A state from a snapshot (JSON) or a copy is a new object: it is recognized all the same.
    room.state = JSON.parse(JSON.stringify(room.state)) as typeof room.state;
    expect(room.refused(ingest, ask({ externalId: 'yt-51' })).message).toContain("question 'q51'");
    room.ok(ingest, ask({ questionId: 'q52', externalId: 'yt-52' }));
    room.state = cloneState(room.state);
    expect(room.refused(ingest, ask({ externalId: 'yt-52' })).message).toContain("question 'q52'");
    expect(room.state.questionCount).toBe(52);
  });

  it('refuses a question id already used', () => {
    const room = liveRoom();
    room.ok(ingest, ask({ questionId: 'q1' }));
    expect(room.refused(cohost, ask({ questionId: 'q1' })).code).toBe('conflict');
  });
});

describe('upvotes', () => {
  it('count once per voter', () => {
    const room = liveRoom();
    room.ok(ingest, ask({ questionId: 'q1' }));
    room.ok(ingest, { kind: 'question.upvote', questionId: 'q1', voter: 'alice' });
    room.ok(ingest, { kind: 'question.upvote', questionId: 'q1', voter: 'bob' });
    expect(room.refused(ingest, { kind: 'question.upvote', questionId: 'q1', voter: 'alice' })).toMatchObject({
      code: 'conflict',
      message: "alice already upvoted question 'q1'.",
    });
    expect(room.state.questions.q1).toMatchObject({ upvotes: 2, voters: ['alice', 'bob'] });
  });
});

describe('triage', () => {
  const withQuestion = () => {
    const room = liveRoom();
    room.ok(ingest, ask({ questionId: 'q1' }));
    return room;
  };

  it('flags a new question for the host, and only a new one', () => {
    const room = withQuestion();
    const event = room.one(cohost, { kind: 'question.flag', questionId: 'q1' });
    expect(event).toMatchObject({
      kind: 'question.flagged',
      previousStatus: 'new',
      question: { status: 'flagged', flaggedAt: room.now },
    });
    expect(room.refused(ops, { kind: 'question.flag', questionId: 'q1' }).message).toBe(
      "Question 'q1' is flagged; only new questions can be flagged for the host.",
    );
  });

  it('the host answers a flagged question; the event says it was flagged', () => {
    const room = withQuestion();
    room.ok(cohost, { kind: 'question.flag', questionId: 'q1' });
    const event = room.one(host, { kind: 'question.answer', questionId: 'q1' });
    expect(event).toMatchObject({ previousStatus: 'flagged', question: { status: 'answered', answeredAt: room.now } });
    expect(room.refused(host, { kind: 'question.answer', questionId: 'q1' }).code).toBe('conflict');
  });

  it('answers or dismisses straight from new', () => {
    const room = withQuestion();
    room.ok(ingest, ask({ questionId: 'q2' }));
    room.ok(cohost, { kind: 'question.answer', questionId: 'q1' });
    room.ok(cohost, { kind: 'question.dismiss', questionId: 'q2' });
    expect(room.state.questions.q1?.status).toBe('answered');
    expect(room.state.questions.q2).toMatchObject({ status: 'dismissed', dismissedAt: room.now });
    expect(room.refused(cohost, { kind: 'question.dismiss', questionId: 'q1' }).code).toBe('conflict');
    expect(room.refused(cohost, { kind: 'question.flag', questionId: 'q2' }).code).toBe('conflict');
  });

  it('restores a dismissed or answered question to new, and nothing else', () => {
    const room = withQuestion();
    expect(room.refused(ops, { kind: 'question.restore', questionId: 'q1' }).code).toBe('conflict');
    room.ok(cohost, { kind: 'question.flag', questionId: 'q1' });
    room.ok(cohost, { kind: 'question.dismiss', questionId: 'q1' });
    const event = room.one(ops, { kind: 'question.restore', questionId: 'q1' });
    expect(event).toMatchObject({
      kind: 'question.restored',
      previousStatus: 'dismissed',
      question: { status: 'new', flaggedAt: null, dismissedAt: null, order: 1 },
    });
    room.ok(cohost, { kind: 'question.answer', questionId: 'q1' });
    expect(room.one(ops, { kind: 'question.restore', questionId: 'q1' })).toMatchObject({ previousStatus: 'answered' });
    expectReplayMatches(room);
  });

  it('pins and unpins, refusing a no-op', () => {
    const room = withQuestion();
    expect(room.one(cohost, { kind: 'question.pin', questionId: 'q1' })).toMatchObject({
      kind: 'question.pinned',
      previousStatus: 'new',
      question: { pinned: true },
    });
    expect(room.refused(cohost, { kind: 'question.pin', questionId: 'q1' }).message).toBe(
      "Question 'q1' is already pinned.",
    );
    room.ok(cohost, { kind: 'question.pin', questionId: 'q1', pinned: false });
    expect(room.state.questions.q1?.pinned).toBe(false);
  });

  it('sets a priority, refusing the same one', () => {
    const room = withQuestion();
    room.ok(ops, { kind: 'question.set_priority', questionId: 'q1', priority: 3 });
    expect(room.state.questions.q1?.priority).toBe(3);
    expect(room.refused(ops, { kind: 'question.set_priority', questionId: 'q1', priority: 3 }).code).toBe('conflict');
  });

  it('names a missing question', () => {
    const room = liveRoom();
    expect(room.refused(cohost, { kind: 'question.flag', questionId: 'q404' })).toMatchObject({
      code: 'not_found',
      message: "No question 'q404' in this session.",
    });
  });
});
