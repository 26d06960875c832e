import type { TopicLimits } from "./types.js";

/**
 * Topic name / topic filter validation (MQTT 3.1.1 sections 1.5.3, 3.3.2, 4.7).
 *
 * Called for every PUBLISH and SUBSCRIBE on the broker and by the REST gateway, so it is a
 * single pass over the UTF-16 code units: no regex, no split, no allocation on success.
 * The UTF-8 byte length is computed in the same loop (and lone surrogates detected there).
 */

const SLASH = 0x2f; // '/'
const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const NUL = 0x00;

/** Absolute protocol ceiling: strings are prefixed by a two-byte length [MQTT-1.5.3]. */
export const MAX_TOPIC_BYTES = 65535;

/**
 * Returns null when `topic` is a valid topic name (as used in PUBLISH and will messages),
 * otherwise a short human-readable reason.
 */
export function validateTopicName(topic: string, limits: TopicLimits): string | null {
  return check(topic, limits, false);
}

/**
 * Returns null when `filter` is a valid topic filter (as used in SUBSCRIBE / UNSUBSCRIBE),
 * otherwise a short human-readable reason.
 */
export function validateTopicFilter(filter: string, limits: TopicLimits): string | null {
  return check(filter, limits, true);
}

function check(s: string, limits: TopicLimits, isFilter: boolean): string | null {
  const what = isFilter ? "topic filter" : "topic name";
  const len = s.length;

  // Topic names and filters MUST be at least one character long [MQTT-4.7.3-1].
  if (len === 0) return `${what} must be at least one character long`;

  const maxBytes = Math.min(limits.maxTopicLength, MAX_TOPIC_BYTES);
  const maxLevels = limits.maxTopicLevels;

  // Every UTF-16 code unit encodes to at least one UTF-8 byte, so this rejects oversized
  // input without scanning it.
  if (len > maxBytes) return `${what} exceeds ${maxBytes} bytes`;

  let bytes = 0;
  let levels = 1;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c === SLASH) {
        if (++levels > maxLevels) return `${what} exceeds ${maxLevels} levels`;
      } else if (c === PLUS) {
        // Wildcards MUST NOT be used within a topic name [MQTT-3.3.2-2] [MQTT-4.7.1-1].
        if (!isFilter) return "topic name must not contain wildcards";
        // '+' MUST occupy an entire level of the filter [MQTT-4.7.1-3].
        if ((i > 0 && s.charCodeAt(i - 1) !== SLASH) || (i + 1 < len && s.charCodeAt(i + 1) !== SLASH)) {
          return "'+' must occupy an entire level of the topic filter";
        }
      } else if (c === HASH) {
        if (!isFilter) return "topic name must not contain wildcards";
        // '#' MUST be specified alone or following a '/', and MUST be the last character [MQTT-4.7.1-2].
        if ((i > 0 && s.charCodeAt(i - 1) !== SLASH) || i + 1 !== len) {
          return "'#' must be the last level of the topic filter and occupy it entirely";
        }
      } else if (c === NUL) {
        // Topic names and filters MUST NOT include U+0000 [MQTT-4.7.3-2] [MQTT-1.5.3-2].
        return `${what} must not contain the null character U+0000`;
      }
      // U+0001..U+001F and U+007F..U+009F are only SHOULD NOT in [MQTT-1.5.3]: accepted.
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // Surrogates: only a high surrogate followed by a low one is well-formed; an
      // unpaired surrogate cannot be encoded as UTF-8 [MQTT-1.5.3-1].
      const next = c <= 0xdbff && i + 1 < len ? s.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) return `${what} must not contain unpaired UTF-16 surrogates`;
      bytes += 4;
      i++;
    } else {
      bytes += 3;
    }
    if (bytes > maxBytes) return `${what} exceeds ${maxBytes} bytes`;
  }
  return null;
}
