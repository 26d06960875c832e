import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { generate } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { useBroker } from "../helpers/fixture.js";
import { RawClient } from "../helpers/raw-client.js";

/** Collects the next `count` messages of a client (listener attached before anything is published). */
function collect(client: MqttClient, count: number, timeoutMs = 5000): Promise<{ topic: string; payload: string; qos: number }[]> {
  return new Promise((resolve, reject) => {
    const got: { topic: string; payload: string; qos: number }[] = [];
    const timer = setTimeout(() => {
      client.off("message", onMessage);
      reject(new Error(`got ${got.length} of ${count} messages: ${JSON.stringify(got)}`));
    }, timeoutMs);
    function onMessage(topic: string, payload: Buffer, packet: { qos: number }): void {
      got.push({ topic, payload: payload.toString(), qos: packet.qos });
      if (got.length === count) {
        clearTimeout(timer);
        client.off("message", onMessage);
        resolve(got);
      }
    }
    client.on("message", onMessage);
  });
}

/** QoS 1 both ways between two connected clients, checking topic, payload, QoS and order. */
async function exchange(a: MqttClient, b: MqttClient, tag: string): Promise<void> {
  await a.subscribeAsync(`${tag}/to-a/#`, { qos: 1 });
  await b.subscribeAsync(`${tag}/to-b/#`, { qos: 1 });
  const expected = (dir: string) => Array.from({ length: 10 }, (_, i) => ({ topic: `${tag}/${dir}/t`, payload: `${dir}-${i}`, qos: 1 }));

  const toB = collect(b, 10);
  for (const m of expected("to-b")) await a.publishAsync(m.topic, m.payload, { qos: 1 });
  expect(await toB).toEqual(expected("to-b"));

  const toA = collect(a, 10);
  for (const m of expected("to-a")) await b.publishAsync(m.topic, m.payload, { qos: 1 });
  expect(await toA).toEqual(expected("to-a"));
}

describe("MQTT over WebSocket", () => {
  const f = useBroker({ ws: { port: 0 } });

  it("a ws client (subprotocol mqtt, path /mqtt) and a tcp client exchange QoS 1 messages both ways", async () => {
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${f.b.port("ws")}/mqtt`, { clientId: "ws-client", reconnectPeriod: 0 });
    const tcp = await mqtt.connectAsync(`mqtt://127.0.0.1:${f.b.mqttPort}`, { clientId: "tcp-client", reconnectPeriod: 0 });
    try {
      const conn = [...f.b.broker.connections].find((c) => c.clientId === "ws-client");
      expect(conn?.transport).toBe("ws");
      await exchange(ws, tcp, "wsx");
    } finally {
      await ws.endAsync();
      await tcp.endAsync();
    }
  });

  /** Opens a raw WebSocket, sends CONNECT when open, and reports what happened. */
  function rawWs(protocols: string[] | undefined): Promise<{ opened: boolean; connack: Buffer | null; protocol: string }> {
    return new Promise((resolve) => {
      const sock = protocols === undefined ? new WebSocket(`ws://127.0.0.1:${f.b.port("ws")}/mqtt`) : new WebSocket(`ws://127.0.0.1:${f.b.port("ws")}/mqtt`, protocols);
      let opened = false;
      let connack: Buffer | null = null;
      sock.on("open", () => {
        opened = true;
        sock.send(generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "raw-ws" }));
      });
      sock.on("message", (data: Buffer) => {
        connack = data;
        sock.close();
      });
      sock.on("error", () => {});
      sock.on("close", () => resolve({ opened, connack, protocol: sock.protocol }));
    });
  }

  it("a ws client offering the mqtt subprotocol gets CONNACK (control for the refusal below)", async () => {
    const r = await rawWs(["mqtt"]);
    expect(r.protocol).toBe("mqtt");
    expect(r.connack).not.toBeNull();
    expect([...(r.connack as Buffer)]).toEqual([0x20, 0x02, 0x00, 0x00]);
  });

  it("a ws client without the mqtt subprotocol is refused: it never gets a CONNACK", async () => {
    const before = f.b.broker.stats.connectionsTotal;
    const none = await rawWs(undefined);
    expect(none.connack).toBeNull();
    const other = await rawWs(["chat"]);
    expect(other.connack).toBeNull();
    expect(f.b.broker.stats.connectionsTotal).toBe(before);
  });
});

/** Generates a self-signed certificate for 127.0.0.1 with the openssl CLI. Throws (fails the test) without openssl. */
function makeCert(dir: string): { certFile: string; keyFile: string } {
  try {
    execFileSync("which", ["openssl"], { stdio: "pipe" });
  } catch {
    throw new Error("the TLS test needs the openssl CLI to generate a test certificate, and `which openssl` found none: install openssl");
  }
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", keyFile, "-out", certFile],
    { stdio: "pipe" },
  );
  return { certFile, keyFile };
}

describe("MQTT over TLS", () => {
  it("an mqtts client and a tcp client exchange QoS 1 messages both ways", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mqgate-tls-"));
    let b: TestBroker | undefined;
    try {
      const { certFile, keyFile } = makeCert(dir);
      b = await startTestBroker({ tls: { port: 0, certFile, keyFile } });
      const tls = await mqtt.connectAsync(`mqtts://127.0.0.1:${b.port("tls")}`, { clientId: "tls-client", reconnectPeriod: 0, rejectUnauthorized: false });
      const tcp = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.mqttPort}`, { clientId: "tcp-peer", reconnectPeriod: 0 });
      try {
        const conn = [...b.broker.connections].find((c) => c.clientId === "tls-client");
        expect(conn?.transport).toBe("tls");
        await exchange(tls, tcp, "tlsx");
      } finally {
        await tls.endAsync();
        await tcp.endAsync();
      }
    } finally {
      await b?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a plain MQTT client on the TLS port does not get a CONNACK", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mqgate-tls-"));
    let b: TestBroker | undefined;
    try {
      const { certFile, keyFile } = makeCert(dir);
      b = await startTestBroker({ tls: { port: 0, certFile, keyFile } });
      const raw = await RawClient.open(b.port("tls"));
      raw.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "plain-on-tls" });
      await raw.waitClosed(3000);
      expect(raw.buffered).toEqual([]);
      expect(b.broker.connections.size).toBe(0);
    } finally {
      await b?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
