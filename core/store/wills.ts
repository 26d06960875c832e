import { putMessageExtras, takeMessageExtras } from "./codec-props.js";
import { StoreDataError } from "./errors.js";
import { willKeys } from "./keys.js";
import { asArray, asString } from "./redis-replies.js";
import * as S from "./scripts.js";
import type { RedisClient } from "./transport.js";
import { checkInt, checkLimit, checkMessage, checkText } from "./validate.js";
import type { TakenWill, WillOps, WillRecord } from "./will-types.js";

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
}

const member = (clientId: string, epoch: number): string => `${epoch}:${clientId}`;

function parseMember(m: string): { clientId: string; epoch: number } {
  const i = m.indexOf(":");
  return { epoch: Number(m.slice(0, i)), clientId: m.slice(i + 1) };
}

/** `<JSON without payload>\n<payload base64>`; the JSON ends with `x` and `pa` for MQTT 5 (codec-props.ts). */
function encodeWill(w: WillRecord): string {
  const head: Record<string, unknown> = { t: w.topic, q: w.qos, r: w.retain, i: w.incarnation, u: w.username, a: w.allowed };
  putMessageExtras(head, w);
  return `${JSON.stringify(head)}\n${w.payload.toString("base64")}`;
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
  takeMessageExtras(h as unknown as Record<string, unknown>, will, "will");
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
