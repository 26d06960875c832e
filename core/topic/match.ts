/**
 * Standalone topic filter matcher (MQTT 3.1.1 section 4.7), used for ACL checks and as the
 * reference implementation the trie and the retained-message index are tested against.
 *
 * Both arguments are assumed valid (see validate.ts). Levels are walked with indexOf and
 * compared code unit by code unit, so no substring or array is allocated.
 */

const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const DOLLAR = 0x24; // '$'

/** Does the topic filter `filter` match the topic name `topic`? */
export function topicMatches(filter: string, topic: string): boolean {
  // A filter starting with a wildcard MUST NOT match a topic name starting with '$' [MQTT-4.7.2-1].
  if (topic.charCodeAt(0) === DOLLAR) {
    const f0 = filter.charCodeAt(0);
    if (f0 === PLUS || f0 === HASH) return false;
  }

  const fLen = filter.length;
  const tLen = topic.length;
  let fi = 0; // start of the current filter level
  let ti = 0; // start of the current topic level; > tLen once every topic level is consumed

  for (;;) {
    let fe = filter.indexOf("/", fi);
    if (fe < 0) fe = fLen;
    const levelLen = fe - fi;
    const first = filter.charCodeAt(fi);

    // '#' matches the parent and any number of child levels [MQTT-4.7.1-2]:
    // "sport/#" matches "sport", "sport/tennis" and "sport/tennis/player1".
    if (levelLen === 1 && first === HASH) return true;

    // The filter has a level the topic does not have.
    if (ti > tLen) return false;

    let te = topic.indexOf("/", ti);
    if (te < 0) te = tLen;

    // '+' matches exactly one level, which may be empty [MQTT-4.7.1-3].
    if (!(levelLen === 1 && first === PLUS)) {
      if (te - ti !== levelLen) return false;
      for (let k = 0; k < levelLen; k++) {
        if (filter.charCodeAt(fi + k) !== topic.charCodeAt(ti + k)) return false;
      }
    }

    if (fe === fLen) return te === tLen; // both exhausted together?
    fi = fe + 1;
    ti = te + 1;
  }
}

/** True when the string contains a '+' or '#' (i.e. is a filter, not a plain name). */
export function hasWildcard(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === PLUS || c === HASH) return true;
  }
  return false;
}

