import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { IPublishPacket, Packet } from "mqtt-packet";
import type { ApiHandler } from "../../functions/router.js";

/**
 * Test support for the REST gateway: API Gateway HTTP API (payload format 2.0) events shaped like the ones API
 * Gateway sends (a `$default` route), a call helper, and small MQTT client helpers.
 */

export interface EventOptions {
  key?: string;
  /** Raw query string, as API Gateway passes it (still percent-encoded). */
  query?: string;
  /** A JSON value (serialized), a string (sent as is), or bytes (base64, as API Gateway sends binary bodies). */
  body?: unknown;
  headers?: Record<string, string>;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function apiEvent(method: string, rawPath: string, opts: EventOptions = {}): APIGatewayProxyEventV2 {
  const now = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  const headers: Record<string, string> = {
    accept: "*/*",
    "content-length": "0",
    host: "abc123.execute-api.eu-west-1.amazonaws.com",
    "user-agent": "curl/8.5.0",
    "x-amzn-trace-id": `Root=1-${randomUUID().slice(0, 8)}`,
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https",
  };
  if (opts.key !== undefined) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined;
  let isBase64Encoded = false;
  if (Buffer.isBuffer(opts.body)) {
    body = opts.body.toString("base64");
    isBase64Encoded = true;
    headers["content-type"] = "application/octet-stream";
    headers["content-length"] = String(opts.body.length);
  } else if (typeof opts.body === "string") {
    body = opts.body;
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  Object.assign(headers, opts.headers);
  const rawQueryString = opts.query ?? "";
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.eu-west-1.amazonaws.com",
      domainPrefix: "abc123",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "203.0.113.7", userAgent: "curl/8.5.0" },
      requestId: `${randomUUID().slice(0, 8)}=`,
      routeKey: "$default",
      stage: "$default",
      time: `${p(now.getUTCDate())}/${MONTHS[now.getUTCMonth()]}/${now.getUTCFullYear()}:${p(now.getUTCHours())}:${p(now.getUTCMinutes())}:${p(now.getUTCSeconds())} +0000`,
      timeEpoch: now.getTime(),
    },
    isBase64Encoded,
  };
  if (rawQueryString !== "") {
    event.queryStringParameters = Object.fromEntries(new URLSearchParams(rawQueryString.replace(/\+/g, "%2B")));
  }
  if (body !== undefined) event.body = body;
  return event;
}

export interface CallResult {
  status: number;
  headers: Record<string, string>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions on JSON bodies
  body: any;
  raw: string | undefined;
}

export async function call(api: ApiHandler, method: string, path: string, opts: EventOptions = {}): Promise<CallResult> {
  const res = await api(apiEvent(method, path, opts));
  const headers = Object.fromEntries(Object.entries(res.headers ?? {}).map(([k, v]) => [k, String(v)]));
  let body: unknown;
  if (res.body !== undefined && res.body !== "") body = JSON.parse(res.body);
  return { status: res.statusCode ?? 200, headers, body, raw: res.body };
}

// ---- MQTT ------------------------------------------------------------------------------------------------

export interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  /** MQTT 5 properties as mqtt.js decodes them (user properties as an object); absent for MQTT 3.1.1 clients. */
  properties?: IPublishPacket["properties"];
}

export interface TestClient {
  client: MqttClient;
  /** Messages as mqtt.js hands them to the application: a QoS 2 message only once its PUBREL came. */
  messages: Received[];
  /**
   * PUBLISH packets in the order they came off the wire, which is the order the broker sent them. Order assertions
   * across QoS levels read this: mqtt.js emits a QoS 2 message on its PUBREL, a round trip after the PUBLISH, so a
   * QoS 0 message sent right behind it is emitted first (`messages` reorders what the broker sent in order).
   */
  wire: Received[];
  /** Resolves once `n` messages in total have arrived. */
  waitFor(n: number, ms?: number): Promise<Received[]>;
  closed: Promise<void>;
}

export async function mqttClient(port: number, clientId: string, opts: IClientOptions = {}): Promise<TestClient> {
  // The listener is attached before CONNACK: a resumed session's messages follow it at once.
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  const messages: Received[] = [];
  const wire: Received[] = [];
  const received = (packet: IPublishPacket): Received => {
    const m: Received = { topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos, retain: packet.retain };
    if (packet.properties !== undefined) m.properties = packet.properties;
    return m;
  };
  // packetreceive fires before mqtt.js handles the packet, so `topic` is still what the wire carried (an alias's
  // topic is filled in by the handler); order and payload are what these assertions need from it.
  client.on("packetreceive", (packet: Packet) => {
    if (packet.cmd === "publish") wire.push(received(packet));
  });
  client.on("message", (topic, _payload, packet: Packet) => {
    if (packet.cmd !== "publish") return;
    messages.push({ ...received(packet), topic });
  });
  const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
    void closed.then(() => reject(new Error(`${clientId}: connection closed before CONNACK`)));
  });
  return {
    client,
    messages,
    wire,
    closed,
    async waitFor(n: number, ms = 5000) {
      const deadline = Date.now() + ms;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} messages, got ${messages.length}: ${JSON.stringify(messages.map((m) => m.topic))}`);
        await sleep(10);
      }
      return messages;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}
