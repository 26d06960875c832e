/** The endpoints `sst deploy` prints: where devices and cloud apps connect. */
import { PUBLIC_PORTS, WS_PATH } from "./broker.js";

export interface Endpoints {
  /** The MQTT endpoint devices should use: mqtts:// with a domain, else mqtt://. */
  mqtt: string;
  /** MQTT over WebSocket: wss:// with a domain, else ws://. */
  websocket: string;
  /** The REST API base (…/v1). */
  rest: string;
  /** Plain endpoints that are also open when a domain is set and plaintext is on. */
  mqttPlain?: string;
  websocketPlain?: string;
}

export function endpoints(o: { loadBalancerHost: string; domain?: string; plaintext: boolean; apiUrl: string }): Endpoints {
  const rest = `${o.apiUrl.replace(/\/+$/, "")}/v1`;
  const plainMqtt = `mqtt://${o.loadBalancerHost}:${PUBLIC_PORTS.mqtt}`;
  const plainWs = `ws://${o.loadBalancerHost}${WS_PATH}`;
  if (o.domain === undefined) return { mqtt: plainMqtt, websocket: plainWs, rest };
  const secure: Endpoints = { mqtt: `mqtts://${o.domain}:${PUBLIC_PORTS.mqtts}`, websocket: `wss://${o.domain}${WS_PATH}`, rest };
  if (!o.plaintext) return secure;
  return { ...secure, mqttPlain: `mqtt://${o.domain}:${PUBLIC_PORTS.mqtt}`, websocketPlain: `ws://${o.domain}${WS_PATH}` };
}
