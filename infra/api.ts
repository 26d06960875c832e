/**
 * The REST gateway (API Gateway HTTP API → one router function) and the example events consumer on the events
 * queue. Functions get their resources through links (`Resource.Upstash`, `Resource.NodeQueues` from "sst").
 */
import { API_FUNCTION, apiAuthEnvironment, apiCors, apiThrottle, deployedRouteKeys, EVENTS_CONSUMER, type FunctionPlan } from "./plan/api.js";
import { ARCHITECTURE, LAMBDA_RUNTIME } from "./plan/runtime.js";
import { configEnv } from "./config.js";
import { eventsQueue, nodeQueues } from "./queues.js";
import { settings } from "./settings.js";
import { upstash } from "./store.js";

function functionArgs(fn: FunctionPlan) {
  return {
    handler: fn.handler,
    runtime: LAMBDA_RUNTIME,
    architecture: ARCHITECTURE,
    timeout: `${fn.timeoutSeconds} seconds` as const,
    memory: `${fn.memoryMb} MB` as const,
    // The same config as the brokers (limits decide what a REST publish may carry).
    environment: configEnv,
    logging: { format: "json" as const, retention: "1 month" as const },
  };
}

export const router = new sst.aws.Function("ApiRouter", {
  ...functionArgs(API_FUNCTION),
  link: [upstash, nodeQueues],
  environment: apiAuthEnvironment(settings.auth),
});

const cors = apiCors(settings.corsOrigins);
const throttle = apiThrottle(settings);

export const api = new sst.aws.ApiGatewayV2("Api", {
  accessLog: { retention: "1 month" },
  // SST's default is CORS for every origin: off unless origins are listed (infra/plan/api.ts).
  cors:
    cors === false
      ? false
      : {
          allowOrigins: cors.allowOrigins,
          allowMethods: cors.allowMethods,
          allowHeaders: cors.allowHeaders,
          exposeHeaders: cors.exposeHeaders,
          allowCredentials: cors.allowCredentials,
          maxAge: `${cors.maxAgeSeconds} seconds`,
        },
  transform: {
    stage: (args) => {
      args.defaultRouteSettings = { throttlingBurstLimit: throttle.burstLimit, throttlingRateLimit: throttle.rateLimit };
    },
  },
});
// The router's routes, then `$default`: unknown paths and methods reach the router and get its problem+json.
for (const route of deployedRouteKeys()) api.route(route, router.arn);

export const eventsConsumer = eventsQueue.subscribe(
  {
    ...functionArgs(EVENTS_CONSUMER),
    transform: {
      // One invocation per 10 events: Lambda's START/END/REPORT lines would be most of the log bill. WARN keeps
      // errors and timeouts, drops the per-invocation lines (Lambda's metrics still count every invocation).
      function: (args) => {
        args.loggingConfig = $output(args.loggingConfig).apply((c) => ({ ...c, logFormat: "JSON", systemLogLevel: "WARN" }));
      },
    },
  },
  { batch: { size: EVENTS_CONSUMER.batchSize, partialResponses: EVENTS_CONSUMER.partialResponses } },
);
