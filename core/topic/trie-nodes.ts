/**
 * The subscription trie's nodes (core/topic/trie.ts) and the read-only walk that matches a topic name against them.
 * `TrieNode` is the trie's own record: only `SubscriptionTrie` creates, links and edits nodes; the walk only reads
 * them (and counts itself as a reader of a node's `SubList`, whose arrays are copied on write while one is
 * iterating).
 */
export const PLUS = "+";
export const HASH = "#";
export const DOLLAR = 0x24; // '$'
const SLASH = 0x2f; // '/'

export type SubscriptionVisitor<T> = (value: T, key: string, filter: string) => void;

/** A node's subscriber list gets a key -> position index once it has this many entries; shorter ones are scanned. */
const INDEXED_FROM = 8;

/**
 * Subscribers at a node that has two or more (one is kept in the node itself, decision 052). The list starts with
 * exactly its two entries and no index.
 */
export class SubList<T> {
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

export class TrieNode<T> {
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

/**
 * `node` has consumed the topic levels before `start`; `start > topic.length` means every
 * level has been consumed.
 */
export function walk<T>(node: TrieNode<T>, topic: string, start: number, visit: SubscriptionVisitor<T>): void {
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
export function levelEnd(topic: string, start: number): number {
  const len = topic.length;
  for (let i = start; i < len; i++) if (topic.charCodeAt(i) === SLASH) return i;
  return len;
}

/** The literal child of `node` for the level `text[start, end)`; a sole child is compared without a substring. */
export function literalChild<T>(node: TrieNode<T>, text: string, start: number, end: number): TrieNode<T> | undefined {
  const only = node.child;
  if (only !== null) {
    const level = only.level;
    return level.length === end - start && text.startsWith(level, start) ? only : undefined;
  }
  return node.children?.get(text.substring(start, end));
}

export function emit<T>(node: TrieNode<T>, visit: SubscriptionVisitor<T>): void {
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
