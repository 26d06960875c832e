import * as z from "zod";
import { isOrderKey } from "../order-key.js";
import { MAX_SUB_IDS, MAX_SUBSCRIPTION_ID } from "../subscription-word.js";
import { MAX_UNACKED, type NodeMessage } from "./types.js";

/**
 * The node-queue message schema: what a receiver accepts from its queue. Bodies are JSON text (SQS bodies are
 * strings; the in-process communicator uses the same encoding so both behave alike). Objects are not strict:
 * a field added by a newer node during a rolling deploy is ignored by an older one, not refused.
 */

const qos = z.literal([0, 1, 2]);
const id = z.string().min(1).max(256);
const clientId = z.string().min(1);

/** MQTT 5 properties in their JSON form (core/message-properties.ts: WireProperties, the checks fromWireProperties makes). */
const wireProperties = z.object({
  pfi: z.int().min(0).max(1).optional(),
  exp: z.int().min(0).max(0xffff_ffff).optional(),
  ct: z.string().optional(),
  rt: z.string().optional(),
  cd: z.base64().optional(),
  up: z.array(z.tuple([z.string(), z.string()])).optional(),
});

/** A target of a `deliver` (types.ts: WireTarget); its identifiers bounded like a delivery's (MAX_SUB_IDS). */
const wireTarget = z.object({
  clientId,
  qos,
  retain: z.boolean().optional(),
  subIds: z.array(z.int().min(1).max(MAX_SUBSCRIPTION_ID)).min(1).max(MAX_SUB_IDS).optional(),
});

const wireMessage = z.object({
  topic: z.string().min(1),
  payload: z.base64(),
  qos,
  retain: z.boolean(),
  props: wireProperties.optional(),
  publishedAt: z.int().nonnegative().optional(),
  order: z.string().refine(isOrderKey, "not an order key").optional(),
});

export const nodeMessageSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("deliver"),
    id,
    origin: z.string().min(1),
    seq: z.int().nonnegative(),
    msg: wireMessage,
    targets: z.array(wireTarget),
    hops: z.int().nonnegative().optional(),
    root: id.optional(),
    match: z.boolean().optional(),
    only: z.string().min(1).optional(),
    groups: z.array(z.string().min(8).max(65_536)).max(1000).optional(),
    holding: z.array(clientId).max(1000).optional(),
  }),
  z.object({
    type: z.literal("publish"),
    id,
    origin: z.string().min(1),
    messages: z.array(wireMessage).min(1),
  }),
  z.object({
    type: z.literal("kick"),
    id,
    clientId,
    reason: z.enum(["takeover", "kicked"]),
    discardSession: z.boolean(),
    epoch: z.int().nonnegative().optional(),
    /** A take-over: the node that claimed the session (the old holder forwards to it for a while). */
    node: z.string().min(1).max(256).optional(),
    /** A take-over with Clean Start: the old session ended (its delayed will is published at once). */
    sessionEnded: z.boolean().optional(),
    /** A kick sent again, outside the claiming node's ordering group (nothing waits for its order any more). */
    unordered: z.boolean().optional(),
  }),
  z.object({
    type: z.literal("moved"),
    id,
    origin: z.string().min(1),
    clientId,
    epoch: z.int().nonnegative(),
    unacked: z
      .array(z.tuple([z.int().min(1).max(0xffff), z.string().refine(isOrderKey, "not an order key")]))
      .max(MAX_UNACKED)
      .optional(),
  }),
  z.object({
    type: z.literal("subscriptions"),
    id,
    clientId,
    add: z.record(z.string().min(1), qos),
    remove: z.array(z.string().min(1)),
    deliverRetained: z.boolean(),
  }),
  z.object({
    type: z.literal("session"),
    id,
    clientId,
    node: z.string().min(1).nullable(),
    epoch: z.int().nonnegative(),
    clean: z.boolean(),
    subscriptions: z.record(z.string().min(1), qos),
    identity: z.string().nullable().optional(),
  }),
]);

// The schema and the hand-written type in types.ts must describe the same thing.
type Parsed = z.infer<typeof nodeMessageSchema>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesType: Same<Parsed, NodeMessage> = true;
void schemaMatchesType;

/** Encodes one message as a queue body. */
export function encodeNodeMessage(message: NodeMessage): string {
  return JSON.stringify(message);
}

/** Decodes a queue body: the message, or a short description of what is wrong with it. */
export function decodeNodeMessage(body: string): { ok: true; message: NodeMessage } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    return { ok: false, problem: `not JSON (${(err as Error).message})` };
  }
  const parsed = nodeMessageSchema.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  return { ok: false, problem: z.prettifyError(parsed.error).replace(/\n+/g, "; ") };
}

/** What a body of the node queues decodes to: its good messages, and a description of each bad part. */
export interface DecodedBody {
  messages: NodeMessage[];
  /** One entry per malformed element (or one for a body that is not a message or an array of them at all). */
  problems: string[];
}

/**
 * Decodes an SQS body of the node queues: one message, or a JSON array of messages (a packed SQS message, see
 * sqs-batch.ts). A bad element of an array is skipped and described; the good ones are kept (decision 020): one
 * corrupt message must not cost the deliveries packed with it. A body that is not JSON is one problem.
 */
export function decodeNodeMessages(body: string): DecodedBody {
  if (!body.startsWith("[")) {
    const one = decodeNodeMessage(body);
    return one.ok ? { messages: [one.message], problems: [] } : { messages: [], problems: [one.problem] };
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    return { messages: [], problems: [`not JSON (${(err as Error).message})`] };
  }
  if (!Array.isArray(json) || json.length === 0) return { messages: [], problems: ["an empty packed body"] };
  const out: DecodedBody = { messages: [], problems: [] };
  json.forEach((element: unknown, i) => {
    const parsed = nodeMessageSchema.safeParse(element);
    if (parsed.success) out.messages.push(parsed.data);
    else out.problems.push(`element ${i} of ${json.length}: ${z.prettifyError(parsed.error).replace(/\n+/g, "; ")}`);
  });
  return out;
}

/** UTF-8 size of a body: what SQS counts against its message size limit. */
export function bodyBytes(body: string): number {
  return Buffer.byteLength(body, "utf8");
}
