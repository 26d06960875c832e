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
 *
 * The nodes and the match walk are in trie-nodes.ts; this class adds, removes and prunes them.
 */

import { DOLLAR, emit, HASH, levelEnd, literalChild, PLUS, SubList, type SubscriptionVisitor, TrieNode, walk } from "./trie-nodes.js";

export type { SubscriptionVisitor } from "./trie-nodes.js";

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
