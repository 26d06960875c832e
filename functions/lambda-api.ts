import type { GatewayBackend } from "./backend.js";
import type { GatewayLimits } from "./route.js";
import { type ApiHandler, createApi } from "./router.js";
import { errorLogLine, requestEmf } from "./telemetry.js";

export interface LambdaApiOptions {
  backend: GatewayBackend | (() => Promise<GatewayBackend>);
  limits: GatewayLimits;
  /** The FunctionName dimension (`AWS_LAMBDA_FUNCTION_NAME`): keeps the stages' series apart. */
  functionName: string;
  /** Where the EMF line goes: one line per invocation, on stdout (CloudWatch Logs extracts the metrics). */
  writeMetrics?: (line: string) => void;
  /** Where error log lines go. */
  writeLog?: (line: string) => void;
  now?: () => number;
}

/**
 * The REST router as the Lambda runs it: each invocation (one API Gateway request) flushes its metrics as one
 * EMF line, and unexpected errors are logged as one JSON line with the request id.
 */
export function createLambdaApi(opts: LambdaApiOptions): ApiHandler {
  const writeMetrics = opts.writeMetrics ?? ((line) => process.stdout.write(`${line}\n`));
  const writeLog = opts.writeLog ?? ((line) => console.error(line));
  const now = opts.now ?? Date.now;
  return createApi({
    backend: opts.backend,
    limits: opts.limits,
    onError: (err, event) => writeLog(errorLogLine(err, event)),
    onRequest: (report) => writeMetrics(JSON.stringify(requestEmf(report, opts.functionName, now()))),
  });
}
