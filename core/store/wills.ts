import { putMessageExtras, takeMessageExtras } from "./codec-props.js";
import { StoreDataError } from "./errors.js";
import { willKeys } from "./keys.js";
import { asArray, asString } from "./redis-replies.js";
import * as S from "./scripts-keys-wills.js";
import type { RedisClient } from "./transport.js";
import { checkInt, checkLimit, checkMessage, checkText } from "./validate.js";
import { MAX_WILL_DELAY, type TakenWill, type WillOps, type WillRecord } from "./will-types.js";

/** Wills on memory and on Redis (either transport): see will-types.ts and docs/store.md ("Wills"). */

function checkWillKey(clientId: string, epoch: number, node: string): void {
  checkText(clientId, "clientId");
  checkText(node, "node");
  checkInt(epoch, "epoch");
}

function checkWill(will: WillRecord): void {
  checkMessage(will);
  checkInt(will.incarnation, "incarnation");
  if (will.username !== null) checkText(will.username, "username");
  if (will.delay !== undefined) checkInt(will.delay, "will delay", 0, MAX_WILL_DELAY);
  if (will.claimedAt !== undefined) checkInt(will.claimedAt, "claimedAt");
  if (will.due !== undefined) checkInt(will.due, "due");
}

const member = (clientId: string, epoch: number): string => `${epoch}:${clientId}`;

function parseMember(m: string): { clientId: string; epoch: number } {
  const i = m.indexOf(":");
  return { epoch: Number(m.slice(0, i)), clientId: m.slice(i + 1) };
}

/**
 * `<JSON without payload>\n<payload base64>`; the JSON ends with `x` and `pa` for MQTT 5 (codec-props.ts), then,
 * for a will with a delay only, `d` (seconds), `c` (claimedAt) and `w` (due, once known): a will without a delay
 * is stored byte for byte as before, and a record without `d` (written before delays were stored) reads as delay 0.
 */
function encodeWill(w: WillRecord): string {
  const head: Record<string, unknown> = { t: w.topic, q: w.qos, r: w.retain, i: w.incarnation, u: w.username, a: w.allowed };
  putMessageExtras(head, w);
  if (w.delay !== undefined && w.delay > 0) {
    head.d = w.delay;
    if (w.claimedAt !== undefined) head.c = w.claimedAt;
    if (w.due !== undefined) head.w = w.due;
  }
  return `${JSON.stringify(head)}\n${w.payload.toString("base64")}`;
}

/** A stored number that must be an integer in 0..max, or absent. */
function storedInt(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= max) return v;
  throw new StoreDataError(`bad ${what} in stored will`);
}

function decodeWill(v: string): WillRecord {
  const nl = v.indexOf("\n");
  let h: { t: string; q: 0 | 1 | 2; r: boolean; i: number; u: string | null; a: boolean };
  try {
    h = JSON.parse(v.slice(0, nl)) as typeof h;
  } catch {
    throw new StoreDataError("unreadable will");
  }
  if (typeof h !== "object" || h === null) throw new StoreDataError("unreadable will");
  const will: WillRecord = { topic: h.t, qos: h.q, retain: h.r, incarnation: h.i, username: h.u, allowed: h.a, payload: Buffer.from(v.slice(nl + 1), "base64") };
  const extras = h as unknown as Record<string, unknown>;
  takeMessageExtras(extras, will, "will");
  const delay = storedInt(extras.d, "delay", MAX_WILL_DELAY);
  if (delay === undefined || delay === 0) return will;
  will.delay = delay;
  const claimedAt = storedInt(extras.c, "claim time");
  if (claimedAt !== undefined) will.claimedAt = claimedAt;
  const due = storedInt(extras.w, "due time");
  if (due !== undefined) will.due = due;
  return will;
}

export class MemoryWills implements WillOps {
  /** node -> member -> encoded will (encoded, so callers never share buffers with the store). */
  private readonly byNode = new Map<string, Map<string, string>>();

  async putWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<void> {
    checkWillKey(clientId, epoch, node);
    checkWill(will);
    let wills = this.byNode.get(node);
    if (wills === undefined) this.byNode.set(node, (wills = new Map()));
    wills.set(member(clientId, epoch), encodeWill(will));
  }

  async replaceWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<boolean> {
    checkWillKey(clientId, epoch, node);
    checkWill(will);
    const wills = this.byNode.get(node);
    const m = member(clientId, epoch);
    const v = wills?.get(m);
    if (wills === undefined || v === undefined) return false;
    wills.set(m, encodeWill(will));
    return true;
  }

  async clearWill(clientId: string, epoch: number, node: string): Promise<boolean> {
    return (await this.takeWill(clientId, epoch, node)) !== null;
  }

  async takeWill(clientId: string, epoch: number, node: string): Promise<WillRecord | null> {
    checkWillKey(clientId, epoch, node);
    const wills = this.byNode.get(node);
    const m = member(clientId, epoch);
    const v = wills?.get(m);
    if (wills === undefined || v === undefined) return null;
    wills.delete(m);
    if (wills.size === 0) this.byNode.delete(node);
    return decodeWill(v);
  }

  async takeWillsOf(node: string, limit: number, upTo?: number): Promise<TakenWill[]> {
    checkText(node, "node");
    checkLimit(limit);
    if (upTo !== undefined) checkInt(upTo, "upTo");
    const wills = this.byNode.get(node);
    if (wills === undefined) return [];
    const due = [...wills]
      .map(([m, v]) => ({ m, will: decodeWill(v) }))
      .filter((e) => upTo === undefined || e.will.incarnation <= upTo)
      .sort((a, b) => a.will.incarnation - b.will.incarnation || (a.m < b.m ? -1 : a.m > b.m ? 1 : 0))
      .slice(0, limit);
    for (const e of due) wills.delete(e.m);
    if (wills.size === 0) this.byNode.delete(node);
    return due.map((e) => ({ ...parseMember(e.m), will: e.will }));
  }
}

export class RedisWills implements WillOps {
  constructor(private readonly client: RedisClient) {}

  async putWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<void> {
    checkWillKey(clientId, epoch, node);
    checkWill(will);
    await this.client.eval(S.WILL_PUT, willKeys(node), [member(clientId, epoch), String(will.incarnation), encodeWill(will)]);
  }

  async replaceWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<boolean> {
    checkWillKey(clientId, epoch, node);
    checkWill(will);
    const v = await this.client.eval(S.WILL_REPLACE, willKeys(node), [member(clientId, epoch), encodeWill(will)]);
    return v === 1;
  }

  async clearWill(clientId: string, epoch: number, node: string): Promise<boolean> {
    return (await this.takeWill(clientId, epoch, node)) !== null;
  }

  async takeWill(clientId: string, epoch: number, node: string): Promise<WillRecord | null> {
    checkWillKey(clientId, epoch, node);
    const v = await this.client.eval(S.WILL_TAKE, willKeys(node), [member(clientId, epoch)]);
    return v === null || v === false || v === undefined ? null : decodeWill(asString(v, "will"));
  }

  async takeWillsOf(node: string, limit: number, upTo?: number): Promise<TakenWill[]> {
    checkText(node, "node");
    checkLimit(limit);
    if (upTo !== undefined) checkInt(upTo, "upTo");
    const a = asArray(await this.client.eval(S.WILLS_TAKE_OF, willKeys(node), [upTo === undefined ? "+inf" : String(upTo), String(limit)]), "wills");
    const out: TakenWill[] = [];
    for (let i = 0; i + 1 < a.length; i += 2) {
      out.push({ ...parseMember(asString(a[i], "will member")), will: decodeWill(asString(a[i + 1], "will")) });
    }
    return out;
  }
}
