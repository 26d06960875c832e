import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { PublishResult } from "./backend.js";
import { type EmfDocument, emfDocument, type MetricSet } from "./emf.js";
import type { RequestReport } from "./router.js";

/**
 * What the REST gateway reports about its requests: CloudWatch EMF metrics (namespace `mqgate`) and error log
 * lines. Every line carries the API Gateway request id; none carries a payload, a header or an API key.
 * Dimensions are low-cardinality: the function name and the route template, never a client id or a topic.
 */

export const NAMESPACE = "mqgate";

/** Metric names (docs/operations.md, "Lambda metrics"). */
export const METRIC = {
  requests: "Requests",
  clientErrors: "ClientErrors",
  errors: "Errors",
  latency: "Latency",
  published: "Published",
  matched: "MatchedSessions",
} as const;

/** Route dimension of requests that matched no route (404, 405): one value, whatever the path was. */
export const UNMATCHED_ROUTE = "unmatched";

/** Records what a publish call did: messages accepted and the sessions they were routed to, summed. */
export function recordPublish(metrics: MetricSet, results: readonly PublishResult[]): void {
  let matched = 0;
  for (const r of results) matched += r.matched ?? 0;
  metrics.add(METRIC.published, "Count", results.length);
  metrics.add(METRIC.matched, "Count", matched);
}

/**
 * The EMF document of one request: what the route recorded (Published, MatchedSessions) plus Requests 1,
 * ClientErrors (4xx) and Errors (5xx) 0 or 1 and Latency, which this adds to `report.metrics`; aggregated by
 * function and route, and by function alone.
 */
export function requestEmf(report: RequestReport, functionName: string, timestamp: number): EmfDocument {
  const m = report.metrics;
  m.add(METRIC.requests, "Count", 1);
  m.add(METRIC.clientErrors, "Count", report.status >= 400 && report.status < 500 ? 1 : 0);
  m.add(METRIC.errors, "Count", report.status >= 500 ? 1 : 0);
  m.add(METRIC.latency, "Milliseconds", Math.round(report.durationMs * 1000) / 1000);
  return emfDocument(m, {
    namespace: NAMESPACE,
    dimensions: { FunctionName: functionName, Route: report.route ?? UNMATCHED_ROUTE },
    dimensionSets: [["FunctionName", "Route"], ["FunctionName"]],
    properties: { requestId: report.requestId, status: report.status },
    timestamp,
  });
}

/** The log line of a request that failed unexpectedly: the error and where, never the request's headers or body. */
export function errorLogLine(err: unknown, event: APIGatewayProxyEventV2): string {
  const e = err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { message: String(err) };
  return JSON.stringify({
    level: "error",
    msg: "request failed",
    requestId: event.requestContext?.requestId,
    method: event.requestContext?.http?.method,
    path: event.rawPath,
    err: e,
  });
}
