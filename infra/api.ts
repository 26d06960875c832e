/**
 * The REST gateway (API Gateway HTTP API → one router function) and the example events consumer on the events
 * queue. Functions get their resources through links (`Resource.Upstash`, `Resource.NodeQueues` from "sst").
 */
import { API_FUNCTION, apiAuthEnvironment, apiRoutes, EVENTS_CONSUMER, type FunctionPlan } from "./plan/api.js";
import { ARCHITECTURE, LAMBDA_RUNTIME } from "./plan/runtime.js";
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
    logging: { format: "json" as const, retention: "1 month" as const },
  };
}

export const router = new sst.aws.Function("ApiRouter", {
  ...functionArgs(API_FUNCTION),
  link: [upstash, nodeQueues],
  environment: apiAuthEnvironment(settings.auth),
});

export const api = new sst.aws.ApiGatewayV2("Api", { accessLog: { retention: "1 month" } });
for (const route of apiRoutes()) api.route(route, router.arn);

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
