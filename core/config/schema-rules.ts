/**
 * Cross-field rules of the mqgate configuration: checks that span keys or sections, run by `configSchema`
 * (core/config/schema.ts) on a complete configuration.
 */
import type * as z from "zod";
import type { MqgateConfig } from "./types.js";

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", "*"]);
const LISTENERS = ["mqtt", "tls", "ws", "http", "metrics"] as const;

export function crossFieldRules(cfg: MqgateConfig, ctx: z.RefinementCtx): void {
  if (cfg.tls.port !== null) {
    for (const [key, env] of [
      ["certFile", "MQGATE_TLS_CERT"],
      ["keyFile", "MQGATE_TLS_KEY"],
    ] as const) {
      if (cfg.tls[key] === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["tls", key],
          message: `is required when tls.port is set (tls.port is ${cfg.tls.port}); set tls.${key} or ${env}, or turn TLS off with tls.port null / MQGATE_TLS_PORT=off`,
        });
      }
    }
  }
  if (cfg.cluster.communicator === "sqs" && cfg.redisUrl === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "communicator"],
      message: "is 'sqs', which needs a store shared by the nodes; set redisUrl (MQGATE_REDIS_URL)",
    });
  }
  if (cfg.cluster.leaseMarginMs > 0 && cfg.cluster.heartbeatMs + cfg.cluster.leaseMarginMs >= cfg.cluster.nodeTtlMs) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "leaseMarginMs"],
      message: `is ${cfg.cluster.leaseMarginMs}: with cluster.heartbeatMs (${cfg.cluster.heartbeatMs}) it must stay below cluster.nodeTtlMs (${cfg.cluster.nodeTtlMs}), or a node gives its lease up between two renewals`,
    });
  }
  const clustered = cfg.cluster.communicator === "sqs" || (cfg.cluster.communicator === "auto" && cfg.sqsEndpoint !== undefined && cfg.redisUrl !== undefined);
  if (clustered && cfg.cluster.links && cfg.cluster.linkSecret === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "linkSecret"],
      message:
        "is required for node links in a cluster (SQS node queues): set MQGATE_CLUSTER__LINK_SECRET to the same random string of 32+ characters on every node, or turn the fast lane off with cluster.links false / MQGATE_CLUSTER__LINKS=false",
    });
  }
  if (cfg.cluster.heartbeatMs * 2 > cfg.cluster.nodeTtlMs) {
    ctx.addIssue({
      code: "custom",
      path: ["cluster", "heartbeatMs"],
      message: `is ${cfg.cluster.heartbeatMs}, more than half of cluster.nodeTtlMs (${cfg.cluster.nodeTtlMs}): one late heartbeat would declare a live node dead`,
    });
  }
  const jwt = cfg.auth.jwt;
  if (jwt !== undefined) {
    const sources = [jwt.jwksUrl, jwt.publicKeyFile, jwt.secret, jwt.secretFile].filter((v) => v !== undefined).length;
    if (sources !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "jwt", "jwksUrl"],
        message: `needs exactly one key source: auth.jwt.jwksUrl, auth.jwt.publicKeyFile, auth.jwt.secret (MQGATE_JWT_SECRET) or auth.jwt.secretFile (${sources} set)`,
      });
    }
  }
  if (cfg.tls.clientCerts !== "off" && cfg.tls.caFile === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["tls", "caFile"],
      message: `is required when tls.clientCerts is '${cfg.tls.clientCerts}': the CA bundle client certificates are verified against (MQGATE_TLS_CA)`,
    });
  }
  const backends = cfg.auth.backends;
  if (backends !== undefined) {
    if (backends.includes("acl") && cfg.auth.aclFile === undefined) {
      ctx.addIssue({ code: "custom", path: ["auth", "aclFile"], message: "is required when auth.backends includes 'acl'; set auth.aclFile or MQGATE_ACL_FILE" });
    }
    const at = backends.indexOf("allow-all");
    if (at >= 0 && at !== backends.length - 1) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "backends"],
        message: `has 'allow-all' before ${backends.slice(at + 1).map((b) => `'${b}'`).join(", ")}, which would never be asked; put 'allow-all' last or remove it`,
      });
    }
  } else if (cfg.auth.mode === "acl" && cfg.auth.aclFile === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["auth", "aclFile"],
      message: "is required when auth.mode is 'acl'; set auth.aclFile or MQGATE_ACL_FILE",
    });
  }
  if (backends === undefined && cfg.auth.mode === "allow-all" && cfg.auth.aclFile !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["auth", "mode"],
      message: `is 'allow-all' but auth.aclFile is set (${cfg.auth.aclFile}), so the ACL would be ignored; set auth.mode 'acl' (MQGATE_AUTH_MODE=acl) or remove auth.aclFile`,
    });
  }
  // Two enabled listeners on the same fixed port and overlapping addresses cannot both bind.
  for (let i = 0; i < LISTENERS.length; i++) {
    for (let j = i + 1; j < LISTENERS.length; j++) {
      const a = LISTENERS[i]!;
      const b = LISTENERS[j]!;
      const la = cfg[a];
      const lb = cfg[b];
      if (la.port === null || la.port === 0 || la.port !== lb.port) continue;
      const overlap = la.host === lb.host || WILDCARD_HOSTS.has(la.host) || WILDCARD_HOSTS.has(lb.host);
      if (overlap) {
        ctx.addIssue({
          code: "custom",
          path: [b, "port"],
          message: `is ${lb.port}, the same port as ${a}.port on an overlapping host (${la.host} / ${lb.host})`,
        });
      }
    }
  }
}
