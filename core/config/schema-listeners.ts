/**
 * Shapes of the listener sections of the mqgate configuration: `mqtt`, `http` and `metrics` (host and
 * port), `tls` (plus certificate files and client certificates) and `ws` (plus the URL path).
 * Shared by the full and the file schema (core/config/schema.ts).
 */
import { CLIENT_CERT_MODES, filePath, host, oneOf, port, wsPath } from "./schema-leaves.js";

export const listenerShape = { host, port: port() };

export const tlsShape = {
  ...listenerShape,
  certFile: filePath.optional(),
  keyFile: filePath.optional(),
  caFile: filePath.optional(),
  clientCerts: oneOf(CLIENT_CERT_MODES),
};

export const wsShape = { ...listenerShape, path: wsPath };
