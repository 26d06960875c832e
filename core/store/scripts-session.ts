import { script, SESSION } from "./scripts.js";
import { APPLY_ENQUEUE, APPLY_OPS } from "./scripts-session-ops.js";
import { APPLY_FINISH, APPLY_STATE, APPLY_WRITE_BACK } from "./scripts-session-state.js";

/**
 * Every session op of one batch for one session, in order, in one call (decision 021; the caller is
 * session-apply.ts). KEYS: the session's keys (keys.ts `sessionKeys().list`).
 *
 * Redis runs Lua slowly compared with its own commands (about 0.1-0.2 µs per Lua step on the benchmark machine), so
 * the per-message path is as few Lua steps as it can be: an enqueue appends its value to a list, a delete its seq to
 * another, a send moves one number; the lists are written back with one HSET, HDEL, ZADD and ZREM each (in chunks of
 * 1,000 arguments), and the boundary's passing entries leave `queue` with one ZREMRANGEBYSCORE.
 *
 * State read once: existence, owner and sent boundary (`meta` `clean`, `node`, `sent`), epoch and seq counter
 * (`ver`). The entries of this call's enqueues are `fresh` (the k-th has seq seq0 + k), and their HSET and ZADD
 * arguments are collected as they come; those up to `written` are in Redis already (a bound check writes everything
 * back first). Entries that updates name are read with one HMGET into a local view (`init` as stored, `cur` as
 * changed). A delete of an entry nobody read is blind (HDEL; ZREM only when it may be queued). The rare update or
 * delete of an entry enqueued by this very call writes at once when it is written already, else makes flush rebuild
 * the collected arguments.
 *
 * An entry is queued when its header's packet id is 0 and its seq is above the boundary; `queue` indexes exactly those
 * once the script ends. `qn` is the number of queued entries once counted: exact after a count, an upper bound after a
 * boundary move (which can only lower the true number), nil (count again) after a rarer change. An enqueue that finds
 * the bound reached without an exact count counts again (ZCARD after writing everything back), so the bound and the
 * drop order are exact.
 *
 * ARGV[1]: dedup window (ms); ARGV[2]: the record field of this call ('' = none) and ARGV[3] its batch number, ARGV[4]
 * the time (ms) (decision 030, apply-key.ts); ARGV[5]: n, the number of seqs that updates name; ARGV[6..5+n]: those
 * seqs; then the ops, each a code and its fields (the fields shared by consecutive ops are sent once):
 *   'p' enqueue parameters of the enqueues that follow: maxQueued, dropPolicy, epoch ('' = not an owner write),
 *       unowned ('1': refuse while a node owns the session; '=<node>': while a node other than <node> owns it),
 *       now (ms, for the dedup window)
 *   'E' count, then that many enqueues without a dedup id, each its value (`<packetId>:0:<body>`; packet id 0 =
 *       queued and bounded, else in flight, never bounded)
 *   'e' enqueue: value, dedupId (refused as duplicate when enqueued under it within the window; an enqueue that is
 *       neither an owner write nor refused while any node owns the session (unowned '1'), so it may land after a
 *       claim read the queue, records its entry's seq under the id in `placed`, trimmed below the oldest queued entry)
 *   'k' the epoch of the owner writes that follow
 *   'u' outgoing.update: new header (`<packetId>:<state>`); its seq is the next of ARGV[3..2+n]
 *   's' outgoing.sent: seq (the boundary moves to it, never beyond the seq counter, never back)
 *   'x' outgoing.delete of every seq from..to (one op or a run of them: session-apply.ts folds consecutive seqs)
 *   'a' / 'r' inbound2.add / inbound2.delete: packetId, or for 'a' '<packetId>|<root>' (decision 025)
 * Reply: a string with one character per enqueue and per other op ('1' done, 'D' done and an entry dropped, 'f'
 * fenced, 'n' no-session, 'F' full, 'u' duplicate, 'U' duplicate of a queued entry that `placed` names to an owner
 * write, 'o' owned), the seq counter before the call (the enqueues done get the next seqs, in order), then per 'D' the
 * seq dropped last, per 'U' the queued entry's seq and per 'o' the owner node, in op order.
 *
 * The record (decision 030): with a record field, the session's `ver` hash keeps under it
 * `<batch>\n<time>\n<reply joined by \n>` once the call is done (codes all '1' as `#<count>`). A call whose record field already holds its batch
 * number is a retry of a call whose reply was lost: it writes nothing and answers the recorded reply. Read with the
 * HMGET of `ver` the script does anyway and written with its HSET, so a call costs no extra Redis command; only a
 * writer's first record in a session looks at the hash's length, and past APPLIED_WRITERS_TRIM writers removes the
 * records older than APPLIED_RECORD_MS. A session that does not exist has no record (its ops are all refused).
 *
 * The Lua is cut into fragments at line ends, joined here in order: scripts-session-state.ts (the state read, the
 * write-back, the record) and scripts-session-ops.ts (the enqueue and the op loop).
 */
export const SESSION_APPLY = script("sessionApply", SESSION + APPLY_STATE + APPLY_WRITE_BACK + APPLY_ENQUEUE + APPLY_OPS + APPLY_FINISH);
