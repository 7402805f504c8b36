import type { CommandKind } from './commands.js';
import type { SessionStatus } from './model.js';
import type { Role } from './roles.js';

const CREW = ['host', 'cohost', 'tech', 'ops'] as const satisfies readonly Role[];
const TRIAGE = ['cohost', 'ops'] as const satisfies readonly Role[];
const RESPONDERS = ['tech', 'ops'] as const satisfies readonly Role[];

/**
 * Who may send each command. A command from any other role is refused with `forbidden`
 * and audited as refused. `observer` sends nothing. Typed as a full record, so adding a
 * command kind without deciding who may send it fails to compile.
 */
export const PERMISSIONS: Readonly<Record<CommandKind, readonly Role[]>> = {
  'session.start_preflight': ['ops'],
  'session.add_checklist_item': ['ops'],
  'session.check_item': CREW,
  'session.go_live': ['ops'],
  'session.end': ['ops'],
  'session.set_target_bitrate': RESPONDERS,

  'incident.raise': [...CREW, 'ingest'],
  'incident.acknowledge': RESPONDERS,
  'incident.assign': RESPONDERS,
  'incident.add_note': RESPONDERS,
  'incident.set_severity': RESPONDERS,
  'incident.push_to_host': RESPONDERS,
  'incident.resolve': RESPONDERS,
  'incident.reopen': RESPONDERS,

  'lineup.set': ['ops'],
  'product.switch': TRIAGE,
  'product.set_price': ['ops'],
  'product.set_stock': ['ops', 'ingest'],

  'question.submit': [...CREW, 'ingest'],
  'question.upvote': [...TRIAGE, 'ingest'],
  'question.flag': TRIAGE,
  'question.pin': TRIAGE,
  'question.set_priority': TRIAGE,
  'question.answer': ['host', ...TRIAGE],
  'question.dismiss': TRIAGE,
  'question.restore': TRIAGE,

  'cue.send': TRIAGE,
  'cue.acknowledge': CREW,

  'health.sample': ['tech', 'ingest'],
  'health.set_rules': RESPONDERS,
};

export function isAllowed(role: Role, kind: CommandKind): boolean {
  return PERMISSIONS[kind].includes(role);
}

const OPEN = ['scheduled', 'preflight', 'live'] as const satisfies readonly SessionStatus[];
const RUNNING = ['preflight', 'live'] as const satisfies readonly SessionStatus[];

/**
 * In which session states each command is accepted; otherwise `session_not_live`.
 * Preparation (checklist, lineup, prices) is open before the show; the work of the show
 * (questions, cues, switching) needs `live`; incidents and health already matter in preflight.
 * Nothing but reading is accepted once the session has ended.
 */
export const ACCEPTED_IN: Readonly<Record<CommandKind, readonly SessionStatus[]>> = {
  'session.start_preflight': ['scheduled'],
  'session.add_checklist_item': ['scheduled', 'preflight'],
  'session.check_item': ['scheduled', 'preflight'],
  'session.go_live': ['preflight'],
  'session.end': RUNNING,
  'session.set_target_bitrate': OPEN,

  'incident.raise': RUNNING,
  'incident.acknowledge': RUNNING,
  'incident.assign': RUNNING,
  'incident.add_note': RUNNING,
  'incident.set_severity': RUNNING,
  'incident.push_to_host': RUNNING,
  'incident.resolve': RUNNING,
  'incident.reopen': RUNNING,

  'lineup.set': OPEN,
  'product.switch': ['live'],
  'product.set_price': OPEN,
  'product.set_stock': OPEN,

  'question.submit': ['live'],
  'question.upvote': ['live'],
  'question.flag': ['live'],
  'question.pin': ['live'],
  'question.set_priority': ['live'],
  'question.answer': ['live'],
  'question.dismiss': ['live'],
  'question.restore': ['live'],

  'cue.send': RUNNING,
  'cue.acknowledge': RUNNING,

  'health.sample': RUNNING,
  'health.set_rules': OPEN,
};
