import { createHash } from 'node:crypto';
import { ReplyError, type Redis } from 'ioredis';
import { ErrorCode } from '../../shared/errors.js';
import { CueroomError } from '../errors.js';

/**
 * A Lua script run by EVALSHA, falling back to EVAL once when the server does not know it
 * (a restart, SCRIPT FLUSH). Scripts are kept off the injected client (no defineCommand),
 * so several stores and readers can share one connection without stepping on each other.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof ReplyError && String((error as Error).message).startsWith('NOSCRIPT')) {
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }
}

/**
 * Redis answered with an error: a bug (a script error, a wrong type), not an outage. Everything
 * else (a closed connection, a timeout, the offline queue disabled) is Redis being away:
 * `unavailable`, and the caller retries with the same command id.
 */
export function redisFailure(error: unknown, what: string): Error {
  if (error instanceof ReplyError || error instanceof CueroomError || error instanceof TypeError) return error as Error;
  return new CueroomError(ErrorCode.Unavailable, `Redis did not answer (${what}); retry with the same command id.`, {
    cause: error,
  });
}

/** Splits a stream entry id `<seq>-<k>` in Lua; ids stay far below 2^53. */
const PARSE_ID = `
local function parse_id(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
`;

/**
 * apply — KEYS: meta, events, cmd:<id>. ARGV: expectedSeq, lastSeq, records JSON, result
 * JSON, result TTL (s), ts (ms), then meta field/value pairs (title, status, createdAt).
 * Reads and checks everything before the first write (Lua does not roll back), and the
 * XADD, the one write that can fail (an id not above the stream's last), goes first.
 * O(1) in the session's size: the state is not rewritten (see snapshot).
 */
export const APPLY = new LuaScript(
  'apply',
  `
local prior = redis.call('GET', KEYS[3])
if prior then return {'duplicate', prior} end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq ~= tonumber(ARGV[1]) then return {'conflict', seq} end
local last = tonumber(ARGV[2])
if not last or last <= seq or (#ARGV - 6) % 2 ~= 0 then
  return redis.error_reply('ERR cueroom apply: bad arguments')
end
redis.call('XADD', KEYS[2], ARGV[2] .. '-0', 'records', ARGV[3], 'ts', ARGV[6])
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'rn', '0', unpack(ARGV, 7))
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
return {'applied', last}
`,
);

/**
 * refuse — KEYS: meta, events, cmd:<id>. ARGV: result JSON, result TTL (s), records JSON,
 * ts (ms). The refused entry gets id `<seq>-<n>`, n counting the refusals since the last
 * apply (`rn`), so it sorts after the entry of that seq and before the next one.
 */
export const REFUSE = new LuaScript(
  'refuse',
  `
local prior = redis.call('GET', KEYS[3])
if prior then return prior end
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
local n = tonumber(redis.call('HGET', KEYS[1], 'rn') or '0') + 1
redis.call('XADD', KEYS[2], seq .. '-' .. n, 'records', ARGV[3], 'ts', ARGV[4])
redis.call('HSET', KEYS[1], 'rn', n)
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[2])
return ARGV[1]
`,
);

/**
 * load — KEYS: meta, snapshot, events. ARGV: the seq of the state the caller has cached
 * (-1 for none). Returns {seq} when there is nothing to read (no session, or the cache is
 * current), else {seq, snapshot JSON or nil, fromSeq, entries after fromSeq}: the tail
 * after the cache when the cache is at or past the snapshot, else after the snapshot.
 */
export const LOAD = new LuaScript(
  'load',
  `
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local have = tonumber(ARGV[1])
if seq == 0 or have == seq then return {seq} end
local floor = tonumber(redis.call('HGET', KEYS[1], 'trimFloor') or '0')
local snap_seq = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
local from = have
local snap = false
if have < 0 or have < snap_seq or have < floor or have > seq then
  if snap_seq < floor then return redis.error_reply('ERR cueroom load: stream trimmed past the snapshot') end
  from = snap_seq
  if snap_seq > 0 then snap = redis.call('HGET', KEYS[2], 'state') end
end
return {seq, snap, from, redis.call('XRANGE', KEYS[3], (from + 1) .. '-0', '+')}
`,
);

/**
 * read since — KEYS: meta, events. ARGV: afterSeq. {0} when events after it were trimmed,
 * else {1, entries that may hold events with seq > afterSeq}; the floor and the range are
 * read in one step so a concurrent trim cannot slip between.
 */
export const READ_SINCE = new LuaScript(
  'read_since',
  `
local floor = tonumber(redis.call('HGET', KEYS[1], 'trimFloor') or '0')
local after = tonumber(ARGV[1])
if after < floor then return {0} end
return {1, redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+')}
`,
);

/**
 * snapshot — KEYS: meta, snapshot. ARGV: seq, state JSON. Writes only over an older
 * snapshot, and never for a session that is gone (no resurrection after expiry).
 */
export const SNAPSHOT = new LuaScript(
  'snapshot',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = tonumber(redis.call('HGET', KEYS[2], 'seq') or '-1')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'state', ARGV[2])
return 1
`,
);

/**
 * trim — KEYS: meta, snapshot, events. ARGV: floorSeq, cutoff ts (ms), most entries to
 * look at. Removes the oldest entries while each is (1) at or below the audit floor the
 * shipper recorded (`auditFloor`, an entry id: everything up to it is in the audit log),
 * (2) at or below floorSeq, (3) at or below the snapshot seq (load needs the tail after
 * it) and (4) written before the cutoff. Records the trim floor for readSince. O(limit).
 */
export const TRIM = new LuaScript(
  'trim',
  `${PARSE_ID}
local af = redis.call('HGET', KEYS[1], 'auditFloor')
if not af then return 0 end
local af_seq, af_k = parse_id(af)
local snap_seq = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
local max_seq = math.min(tonumber(ARGV[1]), snap_seq)
local cutoff = tonumber(ARGV[2])
local entries = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', ARGV[3])
local last_seq, last_k = nil, nil
local count = 0
for _, entry in ipairs(entries) do
  local s, k = parse_id(entry[1])
  if s > max_seq or s > af_seq or (s == af_seq and k > af_k) then break end
  local ts = nil
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'ts' then ts = tonumber(fields[i + 1]) end
  end
  if ts == nil or ts > cutoff then break end
  last_seq, last_k = s, k
  count = count + 1
end
if count == 0 then return 0 end
redis.call('XTRIM', KEYS[3], 'MINID', last_seq .. '-' .. (last_k + 1))
local floor = tonumber(redis.call('HGET', KEYS[1], 'trimFloor') or '0')
if last_seq > floor then redis.call('HSET', KEYS[1], 'trimFloor', last_seq) end
return count
`,
);

/**
 * audit floor — KEYS: meta. ARGV: entry id. Raises the session's audit floor (every entry
 * up to this id is in the audit log); never lowers it, never creates a gone session.
 */
export const AUDIT_FLOOR = new LuaScript(
  'audit_floor',
  `${PARSE_ID}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], 'auditFloor')
if cur then
  local cs, ck = parse_id(cur)
  local ns, nk = parse_id(ARGV[1])
  if ns < cs or (ns == cs and nk <= ck) then return 0 end
end
redis.call('HSET', KEYS[1], 'auditFloor', ARGV[1])
return 1
`,
);
