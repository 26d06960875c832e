/**
 * Topic-filter algebra for authorization (MQTT 3.1.1 section 4.7), self-contained.
 *
 * - `topicMatchesPattern(pattern, topic)`: plain MQTT matching, used for PUBLISH checks.
 * - `filterCovers(pattern, filter)`: every topic `filter` can match is matched by `pattern`
 *   (SUBSCRIBE allow rules).
 * - `filtersOverlap(a, b)`: some topic is matched by both (SUBSCRIBE deny rules).
 *
 * All arguments are assumed to be valid topic names / filters. The functions run on the
 * PUBLISH / SUBSCRIBE hot path: levels are walked with indexOf and compared in place, so
 * nothing is allocated.
 *
 * The '$' rule [MQTT-4.7.2-1]: a filter whose first level is a wildcard does not match topic
 * names starting with '$'. A filter whose first level is a literal starting with '$' matches
 * only such topics.
 */

const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const DOLLAR = 0x24; // '$'

/** Kind of the level s[start..end): a single '+', a single '#', or a literal. */
const LITERAL = 0;
const SINGLE = 1;
const MULTI = 2;

function levelKind(s: string, start: number, end: number): number {
  if (end - start !== 1) return LITERAL;
  const c = s.charCodeAt(start);
  return c === PLUS ? SINGLE : c === HASH ? MULTI : LITERAL;
}

function levelEnd(s: string, start: number): number {
  const e = s.indexOf("/", start);
  return e < 0 ? s.length : e;
}

function sameLevel(a: string, as: number, ae: number, b: string, bs: number, be: number): boolean {
  const len = ae - as;
  if (be - bs !== len) return false;
  for (let k = 0; k < len; k++) {
    if (a.charCodeAt(as + k) !== b.charCodeAt(bs + k)) return false;
  }
  return true;
}

/** Does the first level of `s` start with a wildcard ('+' or '#')? */
function startsWithWildcard(s: string): boolean {
  const c = s.charCodeAt(0);
  return c === PLUS || c === HASH;
}

/**
 * Does the ACL pattern (a topic filter) match the topic name `topic`?
 * Standard MQTT matching: '+' is one level (possibly empty), '#' is the parent level and any
 * number of children ("a/#" matches "a"), and a pattern starting with a wildcard does not
 * match a topic starting with '$'.
 */
export function topicMatchesPattern(pattern: string, topic: string): boolean {
  if (topic.charCodeAt(0) === DOLLAR && startsWithWildcard(pattern)) return false;
  const pLen = pattern.length;
  const tLen = topic.length;
  let pi = 0;
  let ti = 0; // > tLen once every topic level is consumed
  for (;;) {
    const pe = levelEnd(pattern, pi);
    const kind = levelKind(pattern, pi, pe);
    if (kind === MULTI) return true;
    if (ti > tLen) return false; // the pattern has a level the topic does not have
    const te = levelEnd(topic, ti);
    if (kind === LITERAL && !sameLevel(pattern, pi, pe, topic, ti, te)) return false;
    if (pe === pLen) return te === tLen;
    pi = pe + 1;
    ti = te + 1;
  }
}

/**
 * True when every topic the subscription `filter` can match is also matched by the ACL
 * `pattern`, compared level by level:
 *
 * - pattern '#' covers the rest of the filter, including "no more levels" ("a/#" covers "a");
 * - pattern '+' covers one filter level that is '+' or a literal (not '#');
 * - a literal pattern level covers only the same literal;
 * - a filter '#' level is only covered by a pattern '#' level (or by '+/#' where the filter's
 *   '#' cannot match a parent level: "+/#" covers "#", "/+/#" covers "/#").
 *
 * '$' rule: a pattern starting with a wildcard does not cover a filter whose first level is a
 * literal starting with '$' (such a filter only matches '$' topics, which the pattern never
 * matches). Examples: "a/#" covers "a", "a/#", "a/b/+"; "a/+" covers "a/b" but neither "a/#"
 * nor "a/+/c"; "#" covers "+/x" but not "$SYS/#".
 */
export function filterCovers(pattern: string, filter: string): boolean {
  if (filter.charCodeAt(0) === DOLLAR && startsWithWildcard(pattern)) return false;
  const pLen = pattern.length;
  const fLen = filter.length;
  let pi = 0;
  let fi = 0; // > fLen once every filter level is consumed
  for (;;) {
    const pe = levelEnd(pattern, pi);
    const pKind = levelKind(pattern, pi, pe);
    if (pKind === MULTI) return true;
    if (fi > fLen) return false; // the pattern requires a level the filter's topics may lack
    const fe = levelEnd(filter, fi);
    const fKind = levelKind(filter, fi, fe);
    if (fKind === MULTI) {
      // Only a pattern '#' covers a filter '#', with one exception: at the first level ("#") or
      // after a single empty level ("/#") the filter '#' matches no parent topic (that would be
      // the empty, invalid topic), so there '+/#' covers it exactly: "+/#" covers "#".
      return pKind === SINGLE && fi <= 1 && isMultiLevel(pattern, pe + 1);
    }
    if (pKind === LITERAL) {
      if (fKind !== LITERAL || !sameLevel(pattern, pi, pe, filter, fi, fe)) return false;
    }
    // pKind === SINGLE covers a literal or '+' level.
    if (pe === pLen) return fe === fLen;
    pi = pe + 1;
    fi = fe + 1;
  }
}

/**
 * True when at least one topic name is matched by both filters `a` and `b` (symmetric).
 * '#' on either side at a level both reach (or one level past the other's end, as "a/#"
 * matches "a") overlaps; '+' overlaps any single level; literals must be equal.
 * '$' rule: a filter starting with a wildcard and one whose first level is a literal starting
 * with '$' never overlap.
 */
export function filtersOverlap(a: string, b: string): boolean {
  const aDollar = a.charCodeAt(0) === DOLLAR;
  const bDollar = b.charCodeAt(0) === DOLLAR;
  if ((aDollar && startsWithWildcard(b)) || (bDollar && startsWithWildcard(a))) return false;
  const aLen = a.length;
  const bLen = b.length;
  let ai = 0;
  let bi = 0;
  for (;;) {
    const ae = levelEnd(a, ai);
    const be = levelEnd(b, bi);
    const aKind = levelKind(a, ai, ae);
    const bKind = levelKind(b, bi, be);
    if (aKind === MULTI || bKind === MULTI) return true;
    if (aKind === LITERAL && bKind === LITERAL && !sameLevel(a, ai, ae, b, bi, be)) return false;
    const aDone = ae === aLen;
    const bDone = be === bLen;
    if (aDone && bDone) return true;
    if (aDone || bDone) {
      // "a" and "a/#" share topic "a". Not when that topic is the empty string (invalid):
      // "+" and "/#" only share "".
      if (ai === 0 && ((aKind === LITERAL && ae === 0) || (bKind === LITERAL && be === 0))) return false;
      return aDone ? isMultiLevel(b, be + 1) : isMultiLevel(a, ae + 1);
    }
    ai = ae + 1;
    bi = be + 1;
  }
}

/** Is s[start..] exactly the level "#"? */
function isMultiLevel(s: string, start: number): boolean {
  return s.length - start === 1 && s.charCodeAt(start) === HASH;
}
