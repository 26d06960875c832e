#!/usr/bin/env node
// Container health check of the mqgate broker (the Dockerfile's HEALTHCHECK and the ECS task's health check).
//
// It connects to the local MQTT listener and sends PINGREQ instead of CONNECT. The broker must close such a
// connection [MQTT-3.1.0-1], and closing it takes the broker's event loop: a process that is stuck still completes
// TCP handshakes (the kernel does that), which is all a load balancer's TCP check sees. Healthy (exit 0): the broker
// closes or resets the connection, or answers anything, within the timeout. Unhealthy (exit 1): nothing listens, or
// nothing happens. Unlike a CONNECT, the probe needs no credentials, touches neither the authenticator nor the
// store, and is logged at info level ("connection closed before session start"), not as a refused client.
// No dependencies: it runs from the image as is. MQGATE_HOST and MQGATE_MQTT_PORT are the broker's own variables.
import { connect } from "node:net";

const TIMEOUT_MS = 3000;
const PINGREQ = Buffer.from([0xc0, 0x00]);
const env = process.env;
const rawPort = (env.MQGATE_MQTT_PORT ?? "").trim();
const port = rawPort === "" ? 1883 : /^\d+$/.test(rawPort) ? Number(rawPort) : NaN;
const bindHost = (env.MQGATE_HOST ?? "").trim();
const host = bindHost === "" || bindHost === "0.0.0.0" ? "127.0.0.1" : bindHost === "::" ? "::1" : bindHost;
const where = `${host}:${port}`;

function done(code, message) {
  process.stdout.write(`mqgate healthcheck: ${message}\n`);
  process.exit(code);
}

if (!(port > 0 && port <= 65535)) done(1, `no MQTT TCP listener to check (MQGATE_MQTT_PORT=${rawPort})`);

const socket = connect({ host, port });
socket.setTimeout(TIMEOUT_MS, () => done(1, `no reaction from ${where} within ${TIMEOUT_MS} ms`));
socket.on("connect", () => socket.write(PINGREQ));
socket.on("data", () => done(0, `${where} answered`));
socket.on("close", () => done(0, `${where} closed the connection: alive`));
socket.on("error", (err) => {
  // A reset or a broken pipe is the broker closing on us (e.g. at maxConnections): alive, too.
  if (err.code === "ECONNRESET" || err.code === "EPIPE") done(0, `${where} reset the connection: alive`);
  done(1, `${where}: ${err.code ?? err.message}`);
});
