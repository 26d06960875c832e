/**
 * Rules of the ACL file's form ({ allow: { publish, subscribe }, deny: { publish, subscribe } }) and the per-client
 * policy compiled from them. The semantics are in core/auth/acl.ts and docs/auth.md; every auth backend that hands
 * out rules (the ACL file, users and roles in the store, JWT claims, HTTP authorizers) compiles them here.
 */
import type { QoS } from "mqtt-packet";
import { filterCovers, filtersOverlap, topicMatchesPattern } from "../topic/covers.js";
import { denyGuard, DENY_EVERYTHING } from "./guard.js";
import type { ClientPolicy, DeliveryGuard } from "./types.js";

/** One rule's permissions, as validated by the ACL file's schema (or an equivalent one). */
export interface RuleInput {
  allow?: { publish?: readonly string[] | undefined; subscribe?: ReadonlyArray<string | { filter: string; maxQos?: number | undefined }> | undefined } | undefined;
  deny?: { publish?: readonly string[] | undefined; subscribe?: readonly string[] | undefined } | undefined;
}

interface Template {
  raw: string;
  /** Contains %c or %u. */
  substituted: boolean;
}

interface SubscribeTemplate extends Template {
  maxQos: QoS;
}

/** Everything that applies to one principal (a user, or anonymous), concatenated over rules. */
export interface RuleSet {
  pubAllow: Template[];
  pubDeny: Template[];
  subAllow: SubscribeTemplate[];
  subDeny: Template[];
}

const SUBST = /%[cu]/;
const SUBST_G = /%([cu])/g;

function template(raw: string): Template {
  return { raw, substituted: SUBST.test(raw) };
}

export function emptyRuleSet(): RuleSet {
  return { pubAllow: [], pubDeny: [], subAllow: [], subDeny: [] };
}

export function addRule(set: RuleSet, rule: RuleInput): void {
  for (const p of rule.allow?.publish ?? []) set.pubAllow.push(template(p));
  for (const e of rule.allow?.subscribe ?? []) {
    const [filter, maxQos] = typeof e === "string" ? [e, 2 as QoS] : [e.filter, (e.maxQos ?? 2) as QoS];
    set.subAllow.push({ ...template(filter), maxQos });
  }
  for (const p of rule.deny?.publish ?? []) set.pubDeny.push(template(p));
  for (const p of rule.deny?.subscribe ?? []) set.subDeny.push(template(p));
}

/** Is `v` safe to paste into a pattern, i.e. it cannot change the pattern's levels or wildcards? */
function safeValue(v: string | undefined): v is string {
  if (v === undefined || v.length === 0 || v.charCodeAt(0) === 0x24 /* $ */) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x2b /* + */ || c === 0x23 /* # */ || c === 0x2f /* / */ || c === 0) return false;
  }
  return true;
}

/** The pattern with %c / %u replaced, or null when a value it needs is unsafe. */
function substitute(t: Template, clientId: string, username: string | undefined): string | null {
  if (!t.substituted) return t.raw;
  let ok = true;
  const out = t.raw.replace(SUBST_G, (_m, which: string) => {
    const v = which === "c" ? clientId : username;
    if (!safeValue(v)) {
      ok = false;
      return "";
    }
    return v;
  });
  return ok ? out : null;
}

function hasWildcard(s: string): boolean {
  return s.includes("+") || s.includes("#");
}

const NO_TOPICS: ReadonlySet<string> = new Set();

/** One client's precompiled permissions. */
class AclPolicy implements ClientPolicy {
  /** Every subscribe-deny pattern, for deliveries whose subscription is not known. */
  private readonly allDenies: DeliveryGuard | null;

  constructor(
    private readonly pubDenyAll: boolean,
    private readonly pubDenyExact: ReadonlySet<string>,
    private readonly pubDenyWild: readonly string[],
    private readonly pubAllowExact: ReadonlySet<string>,
    private readonly pubAllowWild: readonly string[],
    private readonly subDenyAll: boolean,
    private readonly subDeny: readonly string[],
    private readonly subAllowFilters: readonly string[],
    private readonly subAllowQos: readonly QoS[],
  ) {
    this.allDenies = subDenyAll ? DENY_EVERYTHING : denyGuard(subDeny);
  }

  canPublish(topic: string): boolean {
    if (this.pubDenyAll || this.pubDenyExact.has(topic)) return false;
    const deny = this.pubDenyWild;
    for (let i = 0; i < deny.length; i++) if (topicMatchesPattern(deny[i]!, topic)) return false;
    if (this.pubAllowExact.has(topic)) return true;
    const allow = this.pubAllowWild;
    for (let i = 0; i < allow.length; i++) if (topicMatchesPattern(allow[i]!, topic)) return true;
    return false;
  }

  canSubscribe(filter: string, requestedQos: QoS): QoS | null {
    if (this.subDenyAll) return null;
    // A filter entirely inside a deny pattern is refused; one that only overlaps it gets a delivery guard.
    const deny = this.subDeny;
    for (let i = 0; i < deny.length; i++) if (filterCovers(deny[i]!, filter)) return null;
    const allow = this.subAllowFilters;
    let best = -1;
    for (let i = 0; i < allow.length && best < requestedQos; i++) {
      const q = this.subAllowQos[i]!;
      if (q > best && filterCovers(allow[i]!, filter)) best = q;
    }
    if (best < 0) return null;
    return (best < requestedQos ? best : requestedQos) as QoS;
  }

  deliveryGuard(filter?: string): DeliveryGuard | null {
    if (this.subDenyAll) return DENY_EVERYTHING;
    if (filter === undefined) return this.allDenies;
    const deny = this.subDeny;
    let overlapping: string[] | null = null;
    for (let i = 0; i < deny.length; i++) if (filtersOverlap(deny[i]!, filter)) (overlapping ??= []).push(deny[i]!);
    return overlapping === null ? null : denyGuard(overlapping);
  }
}

/** The client's policy: patterns with %c / %u substituted, split into exact topics and wildcard patterns. */
export function compilePolicy(set: RuleSet, clientId: string, username: string | undefined): ClientPolicy {
  let pubDenyAll = false;
  const pubDenyExact = new Set<string>();
  const pubDenyWild = new Set<string>();
  for (const t of set.pubDeny) {
    const p = substitute(t, clientId, username);
    if (p === null) pubDenyAll = true; // fail closed
    else (hasWildcard(p) ? pubDenyWild : pubDenyExact).add(p);
  }
  const pubAllowExact = new Set<string>();
  const pubAllowWild = new Set<string>();
  for (const t of set.pubAllow) {
    const p = substitute(t, clientId, username);
    if (p !== null) (hasWildcard(p) ? pubAllowWild : pubAllowExact).add(p);
  }
  let subDenyAll = false;
  const subDeny = new Set<string>();
  for (const t of set.subDeny) {
    const p = substitute(t, clientId, username);
    if (p === null) subDenyAll = true; // fail closed
    else subDeny.add(p);
  }
  const subAllow = new Map<string, QoS>();
  for (const t of set.subAllow) {
    const p = substitute(t, clientId, username);
    if (p !== null && (subAllow.get(p) ?? -1) < t.maxQos) subAllow.set(p, t.maxQos);
  }
  return new AclPolicy(
    pubDenyAll,
    pubDenyExact.size === 0 ? NO_TOPICS : pubDenyExact,
    [...pubDenyWild],
    pubAllowExact.size === 0 ? NO_TOPICS : pubAllowExact,
    [...pubAllowWild],
    subDenyAll,
    [...subDeny],
    [...subAllow.keys()],
    [...subAllow.values()],
  );
}

/** The policy for one client from a list of rules (all of them apply). */
export function policyFromRules(rules: readonly RuleInput[], clientId: string, username: string | undefined): ClientPolicy {
  const set = emptyRuleSet();
  for (const r of rules) addRule(set, r);
  return compilePolicy(set, clientId, username);
}
