import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { createWebSocketStream, WebSocketServer } from "ws";
import type { ClientCertificate } from "../core/auth/backend.js";
import { verifiedCertificate } from "../core/auth/x509.js";
import type { MqgateConfig } from "../core/config/types.js";
import { PortListenError } from "../core/listen-error.js";
import type { Broker } from "./broker.js";
import type { ClientStream } from "./client-stream.js";
import { Connection, type Transport } from "./connection.js";
import { HandleAccepts } from "./handle-listener.js";

export interface Listener {
  readonly transport: Transport;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Accepts a stream, or refuses it at once (closed before any byte is read) when `maxConnections` is reached or
 * its address is over its limits (broker/address-limits.ts).
 */
function accept(broker: Broker, stream: ClientStream, remote: string, transport: Transport, certificate?: ClientCertificate): void {
  if (!broker.canAccept()) {
    broker.stats.connectionsRefused++;
    stream.destroy();
    return;
  }
  const admitted = broker.addressLimits.admit(remote);
  if ("refused" in admitted) {
    broker.stats.connectionsRefused++;
    stream.destroy();
    return;
  }
  // The connection gives the address's slot back when the stream has closed ("close" is emitted once), from the
  // stream's one shared "close" listener: no closure, listener or property for it on the stream.
  broker.addConnection(new Connection(broker, stream, remote, transport, certificate, admitted.key));
}

function remoteOf(socket: Socket): string {
  return `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
}

/**
 * Connections the kernel may hold before the broker accepts them (capped by net.core.somaxconn). Node's default,
 * 511, overflows when a fleet reconnects at once; the overflowing clients' SYNs are then retried after 1, 3, 7,
 * 15, 31 s, which stretches a storm that the broker could serve in seconds.
 */
const LISTEN_BACKLOG = 4096;

/** A listener could not bind; names the setting to change. */
export class ListenError extends PortListenError {
  override readonly name = "ListenError";
  constructor(
    readonly transport: Transport,
    host: string,
    port: number,
    code: string | undefined,
  ) {
    super(transport, { tcp: "MQGATE_MQTT_PORT", tls: "MQGATE_TLS_PORT", ws: "MQGATE_WS_PORT" }[transport], host, port, code, " (another MQTT broker?)");
  }
}

function listen(server: NetServer | HttpServer, host: string, port: number, transport: Transport): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new ListenError(transport, host, port, err.code)));
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.removeAllListeners("error");
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

function closer(server: NetServer | HttpServer): () => Promise<void> {
  return () => new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Starts the MQTT listeners that the configuration enables: TCP, TLS and WebSocket. `handles`: plain TCP connections
 * are libuv handles where Node allows (decision 053); false keeps them net.Sockets (the fallback, for its tests).
 */
export async function startListeners(broker: Broker, config: MqgateConfig, handles = true): Promise<Listener[]> {
  const listeners: Listener[] = [];
  try {
    if (config.mqtt.port !== null) {
      // Half-open: a client's end of stream closes its connection only once what it sent before is handled
      // (Connection.onEnd), not at once by Node; with shared-buffer reads that may be later (decision 039).
      // The sockets are for a Node without what HandleStream needs: accepts are taken over once listening.
      const server = createNetServer({ noDelay: true, allowHalfOpen: true }, (socket) => accept(broker, socket, remoteOf(socket), "tcp"));
      const port = await listen(server, config.mqtt.host, config.mqtt.port, "tcp");
      // Plain TCP connections are libuv handles without a net.Socket (decision 053).
      const accepts = !handles
        ? null
        : HandleAccepts.takeOver(
            server,
            (stream) => accept(broker, stream, stream.remote, "tcp"),
            (err) => broker.onAcceptFailed("tcp", err),
          );
      const close = closer(server);
      listeners.push({
        transport: "tcp",
        host: config.mqtt.host,
        port,
        close: accepts === null ? close : async () => void (await Promise.all([close(), accepts.whenDrained()])),
      });
    }
    if (config.tls.port !== null) {
      const { certFile, keyFile, caFile, clientCerts } = config.tls;
      if (certFile === undefined || keyFile === undefined) throw new Error("tls.port is set but tls.certFile or tls.keyFile is missing");
      const server = createTlsServer(
        {
          cert: readFileSync(certFile),
          key: readFileSync(keyFile),
          ...(caFile !== undefined ? { ca: readFileSync(caFile) } : {}),
          // Client certificates (docs/auth.md, "X.509"): verified against caFile by Node; "required" refuses the
          // handshake without a valid one, "optional" lets clients without one through.
          requestCert: clientCerts !== "off",
          rejectUnauthorized: clientCerts === "required",
        },
        (socket) => {
          socket.setNoDelay(true);
          const certificate = clientCerts === "off" ? undefined : verifiedCertificate(socket);
          if (certificate === null) {
            // "optional": a certificate was sent but did not verify. Never treated as no certificate.
            broker.stats.connectionsRefused++;
            socket.destroy();
            return;
          }
          accept(broker, socket, remoteOf(socket), "tls", certificate);
        },
      );
      const port = await listen(server, config.tls.host, config.tls.port, "tls");
      listeners.push({ transport: "tls", host: config.tls.host, port, close: closer(server) });
    }
    if (config.ws.port !== null) {
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { "content-type": "text/plain" }).end("MQTT over WebSocket: connect with subprotocol 'mqtt'\n");
      });
      const wss = new WebSocketServer({
        server: http,
        path: config.ws.path,
        maxPayload: config.limits.maxPacketSize,
        // The subprotocol selected and returned MUST be "mqtt" [MQTT-6.0.0-4]; MQTT 3.1 clients must offer it too
        // (one offering only "mqttv3.1" is refused below).
        handleProtocols: (protocols) => (protocols.has("mqtt") ? "mqtt" : false),
      });
      wss.on("connection", (ws, req) => {
        // ws accepts a handshake without (or without a matching) subprotocol; MQTT requires one (3.1.1 section 6).
        if (ws.protocol === "") {
          ws.close(1002, "subprotocol mqtt required");
          return;
        }
        req.socket.setNoDelay(true);
        const stream = createWebSocketStream(ws);
        // MQTT travels in binary frames only: any other data frame closes the connection [MQTT-6.0.0-1]. The stream
        // hides frame types, so this listener runs before the stream's own one, which then pushes the text frame
        // into the already destroyed stream, where it is dropped unparsed.
        ws.prependListener("message", (_data, isBinary) => {
          if (isBinary) return;
          ws.close(1003, "MQTT needs binary frames");
          stream.destroy();
        });
        accept(broker, stream, remoteOf(req.socket), "ws");
      });
      const port = await listen(http, config.ws.host, config.ws.port, "ws");
      listeners.push({
        transport: "ws",
        host: config.ws.host,
        port,
        close: () =>
          new Promise((resolve) => {
            for (const client of wss.clients) client.terminate();
            wss.close(() => http.close(() => resolve()));
          }),
      });
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  return listeners;
}
