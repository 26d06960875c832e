/**
 * Lambda authorizer backend: invokes `auth.lambda.functionName` (RequestResponse) with the CONNECT
 * (core/auth/authorizer.ts, request shape, which includes the AWS IoT Core custom authorizer event fields) and
 * follows its answer. A function error, a timeout or an unreadable answer is a failure (breaker, CONNACK 0x03).
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import type { LambdaAuthConfig } from "../config/types.js";
import type { AuthBackend } from "./backend.js";
import { type AuthorizerCall, createAuthorizerBackend, tooLarge } from "./authorizer.js";
import type { CircuitBreaker } from "./breaker.js";

export interface LambdaInvokeResult {
  payload?: Uint8Array | undefined;
  /** Set when the function threw ("Unhandled") or returned an error. */
  functionError?: string | undefined;
}

/** One Invoke call; rejects on transport failure or when `signal` aborts. */
export type LambdaInvoke = (functionName: string, payload: Uint8Array, signal: AbortSignal) => Promise<LambdaInvokeResult>;

export interface LambdaBackendDeps {
  /** The Lambda Invoke call (tests inject one; default: the AWS SDK). */
  invoke?: LambdaInvoke;
  now?: () => number;
}

function sdkInvoke(region: string | undefined): LambdaInvoke {
  const client = new LambdaClient(region !== undefined ? { region } : {});
  return async (functionName, payload, signal) => {
    const out = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: "RequestResponse", Payload: payload }), { abortSignal: signal });
    return { payload: out.Payload, functionError: out.FunctionError };
  };
}

export function createLambdaBackend(cfg: LambdaAuthConfig, deps: LambdaBackendDeps = {}): AuthBackend & { readonly breaker: CircuitBreaker } {
  const invoke = deps.invoke ?? sdkInvoke(cfg.region);
  const call: AuthorizerCall = async (body, signal) => {
    const out = await invoke(cfg.functionName, Buffer.from(body), signal);
    if (out.functionError !== undefined) throw new Error(`function error ${out.functionError}`);
    const size = out.payload?.byteLength ?? 0;
    if (size > cfg.maxResponseBytes) throw tooLarge(size, cfg.maxResponseBytes);
    return { status: 200, body: out.payload === undefined ? "" : Buffer.from(out.payload).toString("utf8") };
  };
  return createAuthorizerBackend("lambda", cfg, call, deps.now);
}
