import { describe, expect, it } from "vitest";
import * as keys from "../../core/store/keys.js";

/** The hash tag Redis Cluster uses: the text between the first '{' and the next '}', when not empty. */
function hashTag(key: string): string {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe("store keys", () => {
  it("every global key starts with mqg:", () => {
    const all = [keys.SESSIONS_KEY, keys.ownedKey("n1"), keys.RETAINED_KEY, keys.RETAINED_TOPICS_KEY, keys.NODES_KEY, keys.API_KEYS_KEY, keys.API_KEYS_BY_HASH_KEY, keys.COUNTERS_KEY];
    expect(all.every((k) => k.startsWith(keys.KEY_PREFIX))).toBe(true);
    expect(new Set(all).size).toBe(all.length);
  });

  it("the keys of one session share one hash tag, whatever the client id", () => {
    for (const id of ["c1", "", "a}b", "{x}", "a{b}c", "%7D", "ü/🚀/#"]) {
      const k = keys.sessionKeys(id);
      expect(k.list).toEqual([k.meta, k.subs, k.out, k.queue, k.inbound2, k.version, k.seen, k.placed]);
      expect(new Set(k.list.map(hashTag)).size).toBe(1);
      expect(hashTag(k.meta)).toBe(`c:${keys.escapeKeyPart(id)}`);
      expect(k.list.every((key) => key.startsWith("mqg:{c:"))).toBe(true);
    }
  });

  it("different client ids never share a key", () => {
    const ids = ["a}b", "a%7Db", "a%257Db", "a", "a}:meta", "{c:a}"];
    const all = ids.flatMap((id) => keys.sessionKeys(id).list);
    expect(new Set(all).size).toBe(all.length);
  });

  it("multi-key scripts get keys of one slot: retained and API keys", () => {
    expect(new Set(keys.RETAINED_KEYS.map(hashTag))).toEqual(new Set(["r"]));
    expect(new Set(keys.API_KEY_KEYS.map(hashTag))).toEqual(new Set(["k"]));
  });
});
