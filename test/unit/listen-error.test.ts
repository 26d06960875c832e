import { describe, expect, it } from "vitest";
import { PortListenError } from "../../core/listen-error.js";
import { HttpListenError } from "../../functions/local-http.js";
import { ListenError } from "../../broker/listeners.js";
import { MetricsListenError } from "../../broker/metrics-listener.js";

describe("a port that cannot be bound names the setting to change", () => {
  it("says which variable picks another port when it is in use, for every listener", () => {
    const cases: [Error, RegExp][] = [
      [new ListenError("tcp", "0.0.0.0", 1883, "EADDRINUSE"), /^tcp port 1883 on 0\.0\.0\.0 is already in use \(another MQTT broker\?\)\. Set MQGATE_MQTT_PORT to a free port, or 'off'\.$/],
      [new ListenError("ws", "::", 8083, "EADDRINUSE"), /MQGATE_WS_PORT/],
      [new ListenError("tls", "::", 8883, "EADDRINUSE"), /MQGATE_TLS_PORT/],
      [new MetricsListenError("127.0.0.1", 9464, "EADDRINUSE"), /^metrics port 9464 on 127\.0\.0\.1 is already in use\. Set MQGATE_METRICS_PORT/],
      [new HttpListenError("127.0.0.1", 8080, "EADDRINUSE"), /^http port 8080 on 127\.0\.0\.1 is already in use\. Set MQGATE_HTTP_PORT/],
    ];
    for (const [err, message] of cases) {
      expect(err.message).toMatch(message);
      // broker/main.ts prints these without a stack: one check covers them all.
      expect(err).toBeInstanceOf(PortListenError);
    }
  });

  it("gives the system's code for any other failure, and keeps its own name", () => {
    const err = new ListenError("tcp", "10.0.0.1", 1883, "EADDRNOTAVAIL");
    expect(err.message).toBe("cannot listen for tcp on 10.0.0.1:1883: EADDRNOTAVAIL");
    expect(err.name).toBe("ListenError");
    expect(err.transport).toBe("tcp");
    expect([err.host, err.port, err.code]).toEqual(["10.0.0.1", 1883, "EADDRNOTAVAIL"]);
    expect(new MetricsListenError("h", 1, undefined).message).toBe("cannot listen for metrics on h:1: unknown error");
  });
});
