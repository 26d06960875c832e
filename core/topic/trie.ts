/**
 * Subscription trie: stores (topic filter, subscriber key) -> value and answers "which
 * subscriptions match this topic name" for every PUBLISH (MQTT 3.1.1 section 4.7).
 *
 * Each node is one filter level. Literal levels live in `child` while a node has one (a device's own
 * `fleet/<id>/...` path: no Map per level) and in `children` from the second on; the '+' and '#' levels
 * have dedicated slots so matching never has to look them up by string. A node's only subscription is kept in the
 * node itself (`key`, `value`: a device's own filter has one subscriber); from the second on they are kept in
 * parallel arrays (allocation-free iteration), with a key -> position map once the list is long, for O(1)
 * replace / remove.
 *
 * Filters passed to add/remove/get are assumed valid (validateTopicFilter); topic names
 * passed to match are assumed valid (validateTopicName).
 */

const PLUS = "+";
const HASH = "#";
const DOLLAR = 0x24; // '$'
const SLASH = 0x2f; // '/'

/** A node's subscriber list gets a key -> position index once it has this many entries; shorter ones are scanned. */
const INDEXED_FROM = 8;

/**
 * Subscribers at a node that has two or more (one is kept in the node itself, decision 052). The list starts with
 * exactly its two entries and no index.
 */
class SubList<T> {
  keys: string[];
  vals: T[];
  /** key -> position, once the list reached INDEXED_FROM entries; null before. */
  private pos: Map<string, number> | null = null;
  /** Number of emit() loops currently iterating `keys`/`vals` (they must not be edited in place). */
  readers = 0;

  constructor(key0: string, value0: T, key1: string, value1: T) {
    this.keys = [key0, key1];
    this.vals = [value0, value1];
  }

  indexOf(key: string): number | undefined {
    if (this.pos !== null) return this.pos.get(key);
    const i = this.keys.indexOf(key);
    return i < 0 ? undefined : i;
  }

  /** Appends a new entry (after `writable()`). */
  append(key: string, value: T): void {
    this.pos?.set(key, this.keys.length);
    this.keys.push(key);
    this.vals.push(value);
    if (this.pos === null && this.keys.length >= INDEXED_FROM) {
      const pos = (this.pos = new Map());
      for (let i = 0; i < this.keys.length; i++) pos.set(this.keys[i] as string, i);
    }
  }

  /** Swap-removes the entry at `i` of `key` (after `writable()`): the last entry moves into the hole. */
  removeAt(i: number, key: string): void {
    const last = this.keys.length - 1;
    if (i !== last) {
      const lastKey = this.keys[last] as string;
      this.keys[i] = lastKey;
      this.vals[i] = this.vals[last] as T;
      this.pos?.set(lastKey, i);
    }
    this.keys.pop();
    this.vals.pop();
    this.pos?.delete(key);
  }

  /** Called before any mutation: copy-on-write if a match() loop is iterating the arrays. */
  writable(): void {
    if (this.readers > 0) {
      this.keys = this.keys.slice();
      this.vals = this.vals.slice();
      this.readers = 0;
    }
  }
}

class TrieNode<T> {
  /** The only literal child, or null (then `children` holds two or more, or there are none). */
  child: TrieNode<T> | null = null;
  /** Literal children once there are two or more; null otherwise. */
  children: Map<string, TrieNode<T>> | null = null;
  plus: TrieNode<T> | null = null;
  hash: TrieNode<T> | null = null;
  /** The key of the node's only subscription; null when it has none or two or more (then `subs` holds them). */
  key: string | null = null;
  /** The value of the only subscription (meaningful while `key` is not null). */
  value: T | null = null;
  /** The subscriptions once there are two or more; null otherwise. */
  subs: SubList<T> | null = null;
  /** Full filter ending at this node (set when the first subscription is added). */
  filter = "";

  constructor(
    readonly parent: TrieNode<T> | null,
    /** This node's level under its parent ("+" / "#" for the wildcard slots). */
    readonly level: string,
  ) {}

  isEmpty(): boolean {
    return this.hasNoSubscriptions() && this.plus === null && this.hash === null && this.child === null && this.children === null;
  }

  /** No subscription ends here. */
  hasNoSubscriptions(): boolean {
    return this.key === null && this.subs === null;
  }
}

export type SubscriptionVisitor<T> = (value: T, key: string, filter: string) => void;

export class SubscriptionTrie<T> {
  private readonly root = new TrieNode<T>(null, "");
  private count = 0;
  private nodes = 0;
  private changes = 0;

  /** Number of (filter, key) entries. */
  get size(): number {
    return this.count;
  }

  /**
   * Counts every change to what `match` reports: an entry added, replaced or removed. A caller that remembers what a
   * topic matched (broker/route-memo.ts) knows it still holds while this is the same.
   */
  get version(): number {
    return this.changes;
  }

  /** Number of nodes below the root (for leak tests: 0 once everything has been removed). */
  nodeCount(): number {
    return this.nodes;
  }

  /** Adds or replaces the subscription of `key` to `filter`. Returns true if it is new. */
  add(filter: string, key: string, value: T): boolean {
    let node = this.root;
    let start = 0;
    for (;;) {
      let end = filter.indexOf("/", start);
      if (end < 0) end = filter.length;
      node = this.childOrCreate(node, filter.substring(start, end));
      if (end === filter.length) break;
      start = end + 1;
    }
    this.changes++;

    if (node.hasNoSubscriptions()) {
      node.key = key;
      node.value = value;
      node.filter = filter;
      this.count++;
      return true;
    }
    if (node.key !== null) {
      if (node.key === key) {
        node.value = value;
        return false;
      }
      // The second subscriber: both move into a list.
      node.subs = new SubList<T>(node.key, node.value as T, key, value);
      node.key = null;
      node.value = null;
      this.count++;
      return true;
    }
    const subs = node.subs as SubList<T>;
    const i = subs.indexOf(key);
    subs.writable();
    if (i !== undefined) {
      subs.vals[i] = value;
      return false;
    }
    subs.append(key, value);
    this.count++;
    return true;
  }

  /** Removes the subscription of `key` to `filter`, pruning nodes left empty. Returns true if it existed. */
  remove(filter: string, key: string): boolean {
    const node = this.find(filter);
    if (!node) return false;
    if (node.key !== null) {
      if (node.key !== key) return false;
      node.key = null;
      node.value = null;
      node.filter = "";
      this.count--;
      this.changes++;
      this.prune(node);
      return true;
    }
    const subs = node.subs;
    if (!subs) return false;
    const i = subs.indexOf(key);
    if (i === undefined) return false;

    subs.writable();
    subs.removeAt(i, key);
    this.count--;
    this.changes++;

    if (subs.keys.length === 1) {
      // Back to one subscriber: kept in the node, no list.
      node.key = subs.keys[0] as string;
      node.value = subs.vals[0] as T;
      node.subs = null;
    }
    return true;
  }

  /** The value stored for (filter, key), if any. */
  get(filter: string, key: string): T | undefined {
    const node = this.find(filter);
    if (!node) return undefined;
    if (node.key !== null) return node.key === key ? (node.value as T) : undefined;
    const subs = node.subs;
    if (!subs) return undefined;
    const i = subs.indexOf(key);
    return i === undefined ? undefined : subs.vals[i];
  }

  /**
   * Calls `visit` once per (filter, key) whose filter matches the topic name `topic`.
   *
   * `visit` may add or remove subscriptions (e.g. when a slow client is disconnected): a
   * node's entries are iterated from a copy-on-write snapshot, so no entry is visited twice,
   * but entries added or removed during the call may or may not be visited.
   *
   * Allocates nothing per call beyond the level substrings used as Map keys.
   */
  match(topic: string, visit: SubscriptionVisitor<T>): void {
    if (this.count === 0) return;
    const root = this.root;
    // A filter starting with a wildcard MUST NOT match a topic name starting with '$' [MQTT-4.7.2-1],
    // so only the literal children of the root are consulted for "$SYS/..." and the like.
    const dollar = topic.charCodeAt(0) === DOLLAR;
    const end = levelEnd(topic, 0);
    // "#" alone matches every topic name (not starting with '$') [MQTT-4.7.1-2].
    if (!dollar && root.hash !== null) emit(root.hash, visit);
    const child = literalChild(root, topic, 0, end);
    if (child !== undefined) walk(child, topic, end + 1, visit);
    if (!dollar && root.plus !== null) walk(root.plus, topic, end + 1, visit);
  }

  private find(filter: string): TrieNode<T> | undefined {
    let node: TrieNode<T> | null | undefined = this.root;
    let start = 0;
    for (;;) {
      let end = filter.indexOf("/", start);
      if (end < 0) end = filter.length;
      const level = filter.substring(start, end);
      node = level === PLUS ? node.plus : level === HASH ? node.hash : literalChild(node, filter, start, end);
      if (!node) return undefined;
      if (end === filter.length) return node;
      start = end + 1;
    }
  }

  private childOrCreate(node: TrieNode<T>, level: string): TrieNode<T> {
    if (level === PLUS) return node.plus ?? (this.nodes++, (node.plus = new TrieNode(node, level)));
    if (level === HASH) return node.hash ?? (this.nodes++, (node.hash = new TrieNode(node, level)));
    const only = node.child;
    if (only !== null && only.level === level) return only;
    let child = node.children?.get(level);
    if (child !== undefined) return child;
    child = new TrieNode(node, level);
    this.nodes++;
    if (only === null && node.children === null) {
      node.child = child;
    } else if (only !== null) {
      // A second literal child: both move into a Map.
      node.children = new Map([[only.level, only], [level, child]]);
      node.child = null;
    } else {
      (node.children as Map<string, TrieNode<T>>).set(level, child);
    }
    return child;
  }

  /** Detaches empty nodes from `node` up towards the root. */
  private prune(node: TrieNode<T>): void {
    let n: TrieNode<T> = node;
    while (n.parent !== null && n.isEmpty()) {
      const parent: TrieNode<T> = n.parent;
      if (n.level === PLUS && parent.plus === n) parent.plus = null;
      else if (n.level === HASH && parent.hash === n) parent.hash = null;
      else if (parent.child === n) parent.child = null;
      else if (parent.children !== null) {
        const children = parent.children;
        children.delete(n.level);
        if (children.size === 1) {
          // Back to one literal child: no Map for it.
          parent.child = children.values().next().value as TrieNode<T>;
          parent.children = null;
        }
      }
      this.nodes--;
      n = parent;
    }
  }
}

/**
 * `node` has consumed the topic levels before `start`; `start > topic.length` means every
 * level has been consumed.
 */
function walk<T>(node: TrieNode<T>, topic: string, start: number, visit: SubscriptionVisitor<T>): void {
  // A trailing '#' matches the parent level and any number of child levels [MQTT-4.7.1-2],
  // e.g. "sport/#" matches "sport" as well as "sport/tennis/player1".
  if (node.hash !== null) emit(node.hash, visit);
  const len = topic.length;
  if (start > len) {
    emit(node, visit);
    return;
  }
  const end = levelEnd(topic, start);
  const child = literalChild(node, topic, start, end);
  if (child !== undefined) walk(child, topic, end + 1, visit);
  // '+' matches exactly one level, including an empty one [MQTT-4.7.1-3].
  if (node.plus !== null) walk(node.plus, topic, end + 1, visit);
}

/**
 * Where the level of `topic` that starts at `start` ends: its next '/', or the end. A loop, not `indexOf`: levels
 * are a few characters long, and a call to the builtin cost more than the scan (decision 054).
 */
function levelEnd(topic: string, start: number): number {
  const len = topic.length;
  for (let i = start; i < len; i++) if (topic.charCodeAt(i) === SLASH) return i;
  return len;
}

/** The literal child of `node` for the level `text[start, end)`; a sole child is compared without a substring. */
function literalChild<T>(node: TrieNode<T>, text: string, start: number, end: number): TrieNode<T> | undefined {
  const only = node.child;
  if (only !== null) {
    const level = only.level;
    return level.length === end - start && text.startsWith(level, start) ? only : undefined;
  }
  return node.children?.get(text.substring(start, end));
}

function emit<T>(node: TrieNode<T>, visit: SubscriptionVisitor<T>): void {
  const key = node.key;
  if (key !== null) {
    // Read before the call: `visit` may remove or add subscriptions here.
    visit(node.value as T, key, node.filter);
    return;
  }
  const subs = node.subs;
  if (subs === null) return;
  // A mutation from inside `visit` sees readers > 0 and swaps in new arrays, leaving these intact.
  const keys = subs.keys;
  const vals = subs.vals;
  const filter = node.filter;
  subs.readers++;
  try {
    for (let i = 0; i < keys.length; i++) visit(vals[i] as T, keys[i] as string, filter);
  } finally {
    if (subs.keys === keys) subs.readers--;
  }
}
