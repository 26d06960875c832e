/** What `sst deploy` prints: the MQTT endpoint, the WebSocket endpoint and the REST URL. */
import { api } from "./api.js";
import { broker } from "./broker.js";
import { endpoints } from "./plan/outputs.js";
import { settings } from "./settings.js";

// In `sst dev` the broker is not deployed: run it locally with `npm start`.
const loadBalancerHost = $dev ? $output("localhost") : broker.nodes.loadBalancer.dnsName;

const e = $resolve([loadBalancerHost, api.url]).apply(([host, apiUrl]) =>
  endpoints({ loadBalancerHost: host, apiUrl, domain: settings.domain, plaintext: settings.plaintext }),
);

export const outputs = {
  mqtt: e.mqtt,
  websocket: e.websocket,
  rest: e.rest,
  ...(settings.domain !== undefined && settings.plaintext ? { mqttPlain: e.mqttPlain, websocketPlain: e.websocketPlain } : {}),
};
