import { describe, expect, it } from 'vitest';
import { COMMAND_KINDS, type CommandKind } from '../../shared/commands.js';
import type { SessionStatus } from '../../shared/model.js';
import { ACCEPTED_IN, PERMISSIONS, isAllowed } from '../../shared/permissions.js';
import { ROLES, type Role } from '../../shared/roles.js';

/*
 * The permission table written out by hand from the product brief, one cell per role and
 * command kind. It is deliberately not derived from PERMISSIONS: a change there must be
 * made here too, on purpose.
 */
const COLUMNS = ['host', 'cohost', 'tech', 'ops', 'observer', 'ingest'] as const satisfies readonly Role[];
const _ = false;
const X = true;

// prettier-ignore
const EXPECTED: Record<CommandKind, readonly [host: boolean, cohost: boolean, tech: boolean, ops: boolean, observer: boolean, ingest: boolean]> = {
  //                              host cohost tech ops observer ingest
  'session.start_preflight':    [_,   _,     _,   X,  _,       _],
  'session.add_checklist_item': [_,   _,     _,   X,  _,       _],
  'session.check_item':         [X,   X,     X,   X,  _,       _],
  'session.go_live':            [_,   _,     _,   X,  _,       _],
  'session.end':                [_,   _,     _,   X,  _,       _],
  'session.set_target_bitrate': [_,   _,     X,   X,  _,       _],

  'incident.raise':             [X,   X,     X,   X,  _,       X],
  'incident.acknowledge':       [_,   _,     X,   X,  _,       _],
  'incident.assign':            [_,   _,     X,   X,  _,       _],
  'incident.add_note':          [_,   _,     X,   X,  _,       _],
  'incident.set_severity':      [_,   _,     X,   X,  _,       _],
  'incident.push_to_host':      [_,   _,     X,   X,  _,       _],
  'incident.resolve':           [_,   _,     X,   X,  _,       _],
  'incident.reopen':            [_,   _,     X,   X,  _,       _],

  'lineup.set':                 [_,   _,     _,   X,  _,       _],
  'product.switch':             [_,   X,     _,   X,  _,       _],
  'product.set_price':          [_,   _,     _,   X,  _,       _],
  'product.set_stock':          [_,   _,     _,   X,  _,       X],

  'question.submit':            [X,   X,     X,   X,  _,       X],
  'question.upvote':            [_,   X,     _,   X,  _,       X],
  'question.flag':              [_,   X,     _,   X,  _,       _],
  'question.pin':               [_,   X,     _,   X,  _,       _],
  'question.set_priority':      [_,   X,     _,   X,  _,       _],
  'question.answer':            [X,   X,     _,   X,  _,       _],
  'question.dismiss':           [_,   X,     _,   X,  _,       _],
  'question.restore':           [_,   X,     _,   X,  _,       _],

  'cue.send':                   [_,   X,     _,   X,  _,       _],
  'cue.acknowledge':            [X,   X,     X,   X,  _,       _],

  'health.sample':              [_,   _,     X,   _,  _,       X],
  'health.set_rules':           [_,   _,     X,   X,  _,       _],
};

const cells = COMMAND_KINDS.flatMap((kind) =>
  COLUMNS.map((role, column) => ({ role, kind, allowed: EXPECTED[kind][column] })),
);

describe('permission table', () => {
  it('covers every role and every command kind, nothing more', () => {
    expect([...COLUMNS].sort()).toEqual([...ROLES].sort());
    expect(Object.keys(EXPECTED).sort()).toEqual([...COMMAND_KINDS].sort());
    expect(Object.keys(PERMISSIONS).sort()).toEqual([...COMMAND_KINDS].sort());
    expect(cells).toHaveLength(ROLES.length * COMMAND_KINDS.length);
  });

  it.each(cells)('$role → $kind: $allowed', ({ role, kind, allowed }) => {
    expect(isAllowed(role, kind)).toBe(allowed);
  });

  it('lets observer send nothing', () => {
    expect(COMMAND_KINDS.filter((kind) => isAllowed('observer', kind))).toEqual([]);
  });

  it('lets ingest send only what machines post', () => {
    expect(COMMAND_KINDS.filter((kind) => isAllowed('ingest', kind)).sort()).toEqual(
      ['health.sample', 'incident.raise', 'product.set_stock', 'question.submit', 'question.upvote'].sort(),
    );
  });

  it('gives ops every command a person would need to run the show except posting health samples', () => {
    expect(COMMAND_KINDS.filter((kind) => !isAllowed('ops', kind))).toEqual(['health.sample']);
  });
});

/* In which session statuses each command is accepted (decide refuses the rest with session_not_live). */
const S: SessionStatus = 'scheduled';
const P: SessionStatus = 'preflight';
const L: SessionStatus = 'live';
// prettier-ignore
const EXPECTED_ACCEPTED_IN: Record<CommandKind, readonly SessionStatus[]> = {
  'session.start_preflight':    [S],
  'session.add_checklist_item': [S, P],
  'session.check_item':         [S, P],
  'session.go_live':            [P],
  'session.end':                [P, L],
  'session.set_target_bitrate': [S, P, L],
  'incident.raise':             [P, L],
  'incident.acknowledge':       [P, L],
  'incident.assign':            [P, L],
  'incident.add_note':          [P, L],
  'incident.set_severity':      [P, L],
  'incident.push_to_host':      [P, L],
  'incident.resolve':           [P, L],
  'incident.reopen':            [P, L],
  'lineup.set':                 [S, P, L],
  'product.switch':             [L],
  'product.set_price':          [S, P, L],
  'product.set_stock':          [S, P, L],
  'question.submit':            [L],
  'question.upvote':            [L],
  'question.flag':              [L],
  'question.pin':               [L],
  'question.set_priority':      [L],
  'question.answer':            [L],
  'question.dismiss':           [L],
  'question.restore':           [L],
  'cue.send':                   [P, L],
  'cue.acknowledge':            [P, L],
  'health.sample':              [P, L],
  'health.set_rules':           [S, P, L],
};

describe('session status table', () => {
  const statuses: SessionStatus[] = ['scheduled', 'preflight', 'live', 'ended'];
  const statusCells = COMMAND_KINDS.flatMap((kind) =>
    statuses.map((status) => ({ kind, status, accepted: EXPECTED_ACCEPTED_IN[kind].includes(status) })),
  );

  it.each(statusCells)('$kind in $status: $accepted', ({ kind, status, accepted }) => {
    expect(ACCEPTED_IN[kind].includes(status)).toBe(accepted);
  });

  it('accepts nothing once the session has ended', () => {
    expect(COMMAND_KINDS.filter((kind) => ACCEPTED_IN[kind].includes('ended'))).toEqual([]);
  });
});
