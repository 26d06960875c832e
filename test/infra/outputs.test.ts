import { describe, expect, it } from "vitest";
import { endpoints } from "../../infra/plan/outputs.js";

const lb = "mqgate-prod-BrokerLoadBalancer-1a2b3c.elb.eu-west-1.amazonaws.com";
const apiUrl = "https://abc123.execute-api.eu-west-1.amazonaws.com";

describe("endpoints: what sst deploy prints", () => {
  it("without a domain: the load balancer's name, plain MQTT and ws://", () => {
    expect(endpoints({ loadBalancerHost: lb, apiUrl, plaintext: true })).toEqual({
      mqtt: `mqtt://${lb}:1883`,
      websocket: `ws://${lb}/mqtt`,
      rest: `${apiUrl}/v1`,
    });
  });

  it("with a domain: TLS endpoints first, plain ones as well unless turned off", () => {
    const secure = { mqtt: "mqtts://mqtt.example.com:8883", websocket: "wss://mqtt.example.com/mqtt", rest: `${apiUrl}/v1` };
    expect(endpoints({ loadBalancerHost: lb, apiUrl: `${apiUrl}/`, domain: "mqtt.example.com", plaintext: false })).toEqual(secure);
    expect(endpoints({ loadBalancerHost: lb, apiUrl, domain: "mqtt.example.com", plaintext: true })).toEqual({
      ...secure,
      mqttPlain: "mqtt://mqtt.example.com:1883",
      websocketPlain: "ws://mqtt.example.com/mqtt",
    });
  });
});
