/**
 * Typed configuration of one mqgate node. Produced once at startup by `loadConfig()` /
 * `loadConfigSync()` (core/config/load.ts): defaults < config file < MQGATE_* environment
 * variables < programmatic overrides, then validated (see core/config/schema.ts).
 * Every option is documented in docs/configuration.md.
 */

/** Drop policy for a full offline/pending queue: drop the oldest queued message, or refuse the newest. */
export type DropPolicy = "oldest" | "newest";

export interface ListenerConfig {
  host: string;
  /** 0 picks a free port (tests); null turns the listener off. */
  port: number | null;
}

export interface TlsListenerConfig extends ListenerConfig {
  certFile?: string | undefined;
  keyFile?: string | undefined;
  caFile?: string | undefined;
  /** Client certificates: off (not asked), optional (verified when sent), required (handshake refused without). */
  clientCerts: "off" | "optional" | "required";
}

export interface WsListenerConfig extends ListenerConfig {
  path: string;
}

export interface LimitsConfig {
  /** Largest MQTT packet accepted, in bytes (fixed header included). */
  maxPacketSize: number;
  maxConnections: number;
  /** Outgoing QoS 1/2 messages awaiting acknowledgement per session. */
  maxInflight: number;
  /** Messages queued per session beyond the in-flight window (offline or window full). */
  maxQueued: number;
  queueDropPolicy: DropPolicy;
  maxSubscriptionsPerSession: number;
  maxTopicLength: number;
  maxTopicLevels: number;
  maxClientIdLength: number;
  /** Close sockets that do not send CONNECT within this time. */
  connectTimeoutMs: number;
  /** Server maximum for keepalive in seconds; 0 = no maximum. Longer (or 0) client keepalives are clamped to it. */
  maxKeepaliveSeconds: number;
  /** Maximum number of retained messages the broker holds. */
  maxRetained: number;
  /** Bytes buffered for one client's socket before the broker stops reading from that client. */
  socketHighWaterMark: number;
  /** Topic filters in one SUBSCRIBE or UNSUBSCRIBE; beyond, the connection is closed (decision 009). */
  maxFiltersPerPacket: number;
  /** Largest CONNECT packet, in bytes (capped by maxPacketSize): what a socket can make the broker buffer before CONNECT. */
  maxConnectPacketSize: number;
  /** Bytes of packets held behind CONNECT (or a SUBSCRIBE waiting for the store) before the connection is closed. */
  maxPreAuthBytes: number;
  /** An offline persistent session (and its queue) is deleted after this many seconds; 0 = kept forever. */
  sessionExpirySeconds: number;
  /** Sessions stored cluster-wide; a CONNECT that would create a persistent one beyond it gets CONNACK 0x03. */
  maxSessions: number;
  /** Cluster-wide budget of the retained set in bytes (topic + payload of every retained message). */
  maxRetainedBytes: number;
  /** Open connections from one address (IPv6: one /64); beyond it a new socket is closed at accept. 0 = no limit. */
  maxConnectionsPerAddress: number;
  /** New connections per second one address may open, sustained (token bucket); 0 = no limit. */
  connectionRatePerAddress: number;
  /** New connections one address may open at once (the bucket's size). */
  connectionBurstPerAddress: number;
  /** Addresses whose counts are kept; the least recently seen idle ones are forgotten first. */
  maxTrackedAddresses: number;
}

/** JWT backend (core/auth/jwt.ts): the MQTT password carries a JWT. Exactly one key source. */
export interface JwtAuthConfig {
  jwksUrl?: string | undefined;
  /** PEM public key (RS256 / ES256...). */
  publicKeyFile?: string | undefined;
  /** HS256 shared secret (MQGATE_JWT_SECRET). Secret. */
  secret?: string | undefined;
  secretFile?: string | undefined;
  /** Accepted algorithms; default: HS256 with a secret, RS256 and ES256 with a key or JWKS. */
  algorithms?: Array<"HS256" | "HS384" | "HS512" | "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512" | "EdDSA"> | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  clockToleranceSeconds: number;
  usernameClaim: string;
  clientIdClaim: string;
  aclClaim: string;
  /** Refuse tokens without `exp`. */
  requireExp: boolean;
  jwksCacheSeconds: number;
  jwksCooldownMs: number;
  jwksTimeoutMs: number;
  maxTokenBytes: number;
}

/** Circuit breaker of an external authorizer (HTTP, Lambda). */
export interface AuthorizerCallConfig {
  timeoutMs: number;
  /** Consecutive failures (errors, timeouts, 5xx) that open the breaker. */
  breakerFailures: number;
  /** Seconds the breaker stays open (CONNECT refused 0x03 at once) before one trial call. */
  breakerOpenSeconds: number;
  /** Decision cache time when the answer has no ttl (seconds); 0 = do not cache. */
  defaultTtlSeconds: number;
  maxResponseBytes: number;
  /** Calls waiting for an answer at once; a CONNECT beyond is answered 0x03 without a call. */
  maxInFlight: number;
}

/** HTTP authorizer (core/auth/http-authorizer.ts). */
export interface HttpAuthConfig extends AuthorizerCallConfig {
  url: string;
  /** Static request headers (a config file). */
  headers?: Record<string, string> | undefined;
  /** Authorization header value (MQGATE_AUTH_HTTP_AUTHORIZATION). Secret. */
  authorization?: string | undefined;
}

/** Lambda authorizer (core/auth/lambda-authorizer.ts). */
export interface LambdaAuthConfig extends AuthorizerCallConfig {
  functionName: string;
  region?: string | undefined;
}

/** X.509 backend (core/auth/x509.ts): the verified client certificate names the client. */
export interface X509AuthConfig {
  /** Which part of the certificate becomes the identity: the subject CN, or the first SAN of a type. */
  identity: "cn" | "san-dns" | "san-uri" | "san-email";
  /** A YAML/JSON file of rules per identity (ACL file form); without it, the identity is handed to the next backend. */
  rulesFile?: string | undefined;
  /** The MQTT user name, when set, must equal the identity. */
  requireUsernameMatch: boolean;
}

export interface AuthConfig {
  /** allow-all: development default. acl: users and rules from aclFile. */
  mode: "allow-all" | "acl";
  aclFile?: string | undefined;
  /** Client ids a user may use (`%u` = user name, `*` = anything); unset = any. Others get CONNACK 0x05. */
  clientIdPattern?: string | undefined;
  /** Password hashes computed at once (threads of libuv's pool). */
  hashConcurrency: number;
  /** Password checks waiting at once; beyond it, CONNACK 0x03. */
  maxPendingAuth: number;
  /** While an address's oldest waiting check has waited longer, its new CONNECTs get CONNACK 0x03 at once; 0 = never. */
  maxAuthWaitMs: number;
  /** Seconds a successful password check is remembered (per node); 0 = no cache. */
  cacheSeconds: number;
  cacheMaxEntries: number;
  /** Ordered auth chain (MQGATE_AUTH_BACKENDS); unset: [mode]. See docs/auth.md. */
  backends?: ("acl" | "store" | "allow-all" | "jwt" | "http" | "lambda" | "x509")[] | undefined;
  /** Chain decision cache TTL, seconds (default 60; 0 = off). */
  decisionCacheSeconds?: number | undefined;
  /** Chain decision cache capacity (default 10000; 0 = off). */
  decisionCacheSize?: number | undefined;
  /** Store poll for user and role changes, ms (default 250). */
  syncIntervalMs?: number | undefined;
  jwt?: JwtAuthConfig | undefined;
  http?: HttpAuthConfig | undefined;
  lambda?: LambdaAuthConfig | undefined;
  x509?: X509AuthConfig | undefined;
}

export interface MqgateConfig {
  /** Unique per broker process in the cluster; default `<hostname>-<pid>`. No whitespace, '/', '+', '#'. */
  nodeId: string;
  mqtt: ListenerConfig;
  tls: TlsListenerConfig;
  ws: WsListenerConfig;
  http: ListenerConfig;
  metrics: ListenerConfig;
  limits: LimitsConfig;
  auth: AuthConfig;
  /** $SYS publish interval in seconds; 0 = off. */
  sysIntervalSeconds: number;
  /** MQGATE_REDIS_URL (redis:// or rediss://): use the Redis store over TCP instead of memory. Secret (may hold a password). */
  redisUrl?: string | undefined;
  /** MQGATE_SQS_ENDPOINT (http:// or https://): SQS endpoint override, e.g. a local emulator. */
  sqsEndpoint?: string | undefined;
  /** MQGATE_API_KEY: key expected by the HTTP API. Secret. */
  apiKey?: string | undefined;
  log: { level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent" };
  shutdown: { drainMs: number };
  cluster: ClusterConfig;
  events: EventsConfig;
  emf: EmfConfig;
}

/** Metrics as CloudWatch embedded metric format lines on stdout (docs/operations.md). */
export interface EmfConfig {
  /** Seconds between two exports; 0 = off (the default: Prometheus serves self-hosted setups). */
  intervalSeconds: number;
  /** CloudWatch namespace of the metrics. */
  namespace: string;
  /** Value of the `cluster` dimension (the deployment); `node` is the node id. */
  cluster: string;
}

/** Cluster membership (docs/cluster.md). */
export interface ClusterConfig {
  /**
   * How nodes reach each other: "memory" (one node), "sqs" (node queues, needs redisUrl), or "auto": SQS when
   * both sqsEndpoint and redisUrl are set, memory otherwise.
   */
  communicator: "auto" | "memory" | "sqs";
  /** Prefix of the node queues' names (`<prefix>-node-<nodeId>.fifo`): the deployment's name. */
  queuePrefix: string;
  /** AWS region of the SQS client; default: the SDK's (AWS_REGION), or us-east-1 with an emulator endpoint. */
  sqsRegion?: string | undefined;
  heartbeatMs: number;
  /** A node whose last heartbeat is older than this is dead: its sessions go offline and its queue is drained. */
  nodeTtlMs: number;
  /**
   * A node stops serving this long before the others may consider it dead (its lease, decision 019): covers clock
   * skew between nodes and the time to close its connections. 0 = a tenth of `nodeTtlMs`.
   */
  leaseMarginMs: number;
  /**
   * Deprecated, no effect (decision 017): the periodic full re-read of sessions is gone; route tables follow the
   * store's route log and per-node digests. Still accepted so existing configurations load.
   */
  resyncMs: number;
  /**
   * How long a dead node's queue is kept (and drained every heartbeat) after its sessions were released, before it
   * is deleted: longer than a sender that still routes there may take to stop (REST calls, send retries), SQS's
   * visibility timeout (messages the dead node had received reappear) and then some (decision 020).
   */
  deadQueueGraceMs: number;
  /**
   * ARN of a FIFO dead-letter queue for the node queues (infra creates it): a message received this many times
   * without being deleted (a node crashing on it) moves there instead of blocking its group. Absent: none.
   */
  deadLetterQueueArn?: string | undefined;
  /** host:port this node's clients connect to, shown in GET /v1/nodes; default `<hostname>:<mqtt port>`. */
  address?: string | undefined;
  /**
   * Direct node-to-node links for forwards between nodes (docs/cluster.md, "Fast lane"), with the node queue as
   * the fallback. On by default; in a cluster (SQS node queues) they need `linkSecret`.
   */
  links: boolean;
  /** Bind host of the link listener. */
  linkHost: string;
  /** Port of the link listener; 0 = any free port (tests, local clusters). Deployments open one fixed port between tasks. */
  linkPort: number;
  /** Host other nodes dial; default: linkHost when it is a specific address, else the host of `address`, else the host name. */
  linkAdvertiseHost?: string | undefined;
  /** Shared secret of the links' HMAC handshake (MQGATE_CLUSTER__LINK_SECRET), the same on every node. Secret. */
  linkSecret?: string | undefined;
  /** A batch not acknowledged by the receiving node within this cuts the link and goes by SQS. */
  linkAckTimeoutMs: number;
}

/** The events queue (docs/events.md). */
export interface EventsConfig {
  /** URL of the events FIFO queue; unset = no events. */
  queueUrl?: string | undefined;
  /** Topics that produce message.published events (MQTT filters); default every topic. */
  include?: string[] | undefined;
  /** Topics that never do; default `$SYS/#`. */
  exclude?: string[] | undefined;
  /** Events the bridge holds (waiting or being sent); beyond, new events are dropped and counted. */
  maxBufferedEvents: number;
  /** Approximate bytes of the events the bridge holds; beyond, new events are dropped and counted. */
  maxBufferedBytes: number;
}

/** Every field optional, recursively: the shape of a config file and of `loadConfig({ overrides })`. */
export type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
