/**
 * Topic index: stores values under topic NAMES (retained messages) and answers "which
 * stored topics match this topic FILTER" (MQTT 3.1.1 sections 3.3.1.3 and 4.7).
 *
 * Each node is one topic level; values sit on the node of their last level. Empty nodes are
 * pruned on delete. Topic names passed to set/get/delete are assumed valid
 * (validateTopicName); filters passed to matchFilter are assumed valid (validateTopicFilter).
 */

const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const DOLLAR = 0x24; // '$'

class IndexNode<T> {
  children: Map<string, IndexNode<T>> | null = null;
  has = false;
  value: T | undefined = undefined;
  /** Full topic name of this node (valid when `has`). */
  topic = "";

  constructor(
    readonly parent: IndexNode<T> | null,
    readonly level: string,
  ) {}
}

export type TopicIndexVisitor<T> = (topic: string, value: T) => void;

export class TopicIndex<T> {
  private readonly root = new IndexNode<T>(null, "");
  private count = 0;
  private nodes = 0;

  /** Number of stored topics. */
  get size(): number {
    return this.count;
  }

  /** Number of nodes below the root (for leak tests: 0 once everything has been deleted). */
  nodeCount(): number {
    return this.nodes;
  }

  /** Stores `value` under `topic`, replacing any previous value. */
  set(topic: string, value: T): void {
    let node = this.root;
    let start = 0;
    for (;;) {
      let end = topic.indexOf("/", start);
      if (end < 0) end = topic.length;
      const level = topic.substring(start, end);
      const children = (node.children ??= new Map());
      let child = children.get(level);
      if (child === undefined) {
        child = new IndexNode(node, level);
        children.set(level, child);
        this.nodes++;
      }
      node = child;
      if (end === topic.length) break;
      start = end + 1;
    }
    if (!node.has) {
      node.has = true;
      node.topic = topic;
      this.count++;
    }
    node.value = value;
  }

  get(topic: string): T | undefined {
    const node = this.find(topic);
    return node?.has ? node.value : undefined;
  }

  has(topic: string): boolean {
    return this.find(topic)?.has === true;
  }

  /** Removes `topic`, pruning nodes left empty. Returns true if it was stored. */
  delete(topic: string): boolean {
    const node = this.find(topic);
    if (!node?.has) return false;
    node.has = false;
    node.value = undefined;
    node.topic = "";
    this.count--;

    let n: IndexNode<T> = node;
    while (n.parent !== null && !n.has && (n.children === null || n.children.size === 0)) {
      const parent: IndexNode<T> = n.parent;
      parent.children?.delete(n.level);
      if (parent.children?.size === 0) parent.children = null;
      this.nodes--;
      n = parent;
    }
    return true;
  }

  /**
   * Calls `visit` once per stored topic matched by `filter`. A filter starting with '+' or '#'
   * does not match stored topics starting with '$' [MQTT-4.7.2-1].
   *
   * `visit` may set or delete topics; this follows Map iteration semantics (topics deleted
   * before they are reached are skipped, topics added during the call may be visited).
   */
  matchFilter(filter: string, visit: TopicIndexVisitor<T>): void {
    if (this.count === 0) return;
    matchLevel(this.root, filter, 0, visit);
  }

  /** All (topic, value) pairs, depth first, siblings in insertion order. */
  *entries(): IterableIterator<[string, T]> {
    // Explicit stack rather than recursive yield*, so deep topics cost O(1) per step.
    const stack: Iterator<IndexNode<T>>[] = [];
    if (this.root.children !== null) stack.push(this.root.children.values());
    while (stack.length > 0) {
      const r = (stack[stack.length - 1] as Iterator<IndexNode<T>>).next();
      if (r.done === true) {
        stack.pop();
        continue;
      }
      const n = r.value;
      if (n.has) yield [n.topic, n.value as T];
      if (n.children !== null) stack.push(n.children.values());
    }
  }

  [Symbol.iterator](): IterableIterator<[string, T]> {
    return this.entries();
  }

  private find(topic: string): IndexNode<T> | undefined {
    let node: IndexNode<T> | undefined = this.root;
    let start = 0;
    for (;;) {
      let end = topic.indexOf("/", start);
      if (end < 0) end = topic.length;
      node = node.children?.get(topic.substring(start, end));
      if (node === undefined) return undefined;
      if (end === topic.length) return node;
      start = end + 1;
    }
  }
}

/**
 * `node` has consumed the filter levels before `start`; `start > filter.length` means every
 * filter level has been consumed. At the root (`start === 0`) wildcards skip '$' topics.
 */
function matchLevel<T>(node: IndexNode<T>, filter: string, start: number, visit: TopicIndexVisitor<T>): void {
  const len = filter.length;
  if (start > len) {
    if (node.has) visit(node.topic, node.value as T);
    return;
  }
  let end = filter.indexOf("/", start);
  if (end < 0) end = len;
  const c = end - start === 1 ? filter.charCodeAt(start) : 0;

  if (c === HASH) {
    // '#' matches the parent level and any number of child levels [MQTT-4.7.1-2]:
    // "sport/#" matches the stored topic "sport" too. (The root never holds a value.)
    if (node.has) visit(node.topic, node.value as T);
    visitAll(node, start === 0, visit);
    return;
  }

  const children = node.children;
  if (children === null) return;
  if (c === PLUS) {
    // '+' matches exactly one level, including an empty one [MQTT-4.7.1-3].
    for (const child of children.values()) {
      if (start === 0 && child.level.charCodeAt(0) === DOLLAR) continue; // [MQTT-4.7.2-1]
      matchLevel(child, filter, end + 1, visit);
    }
    return;
  }
  const child = children.get(filter.substring(start, end));
  if (child !== undefined) matchLevel(child, filter, end + 1, visit);
}

/** Visits every stored topic strictly below `node`. */
function visitAll<T>(node: IndexNode<T>, skipDollar: boolean, visit: TopicIndexVisitor<T>): void {
  const children = node.children;
  if (children === null) return;
  for (const child of children.values()) {
    if (skipDollar && child.level.charCodeAt(0) === DOLLAR) continue; // [MQTT-4.7.2-1]
    if (child.has) visit(child.topic, child.value as T);
    visitAll(child, false, visit);
  }
}
