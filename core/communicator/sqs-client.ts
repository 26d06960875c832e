import { createHash } from "node:crypto";
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";

/**
 * The one place that builds SQS clients and knows SQS quirks, for the node queues and the events queue.
 *
 * Endpoint: with an `endpoint` (MQGATE_SQS_ENDPOINT: an emulator or a VPC endpoint) every call goes to it.
 * Without one, the SQS SDK sends each call to the host of the call's QueueUrl (`useQueueUrlAsEndpoint`); an
 * emulator's queue URLs name hosts that do not resolve (fauxqs: `http://sqs.<region>.localhost:<port>/…`), so an
 * explicit endpoint also turns that off. Queue URLs are passed on verbatim, never rewritten: fauxqs finds a
 * queue by its exact URL string, and real SQS by its path.
 */

export interface SqsClientOptions {
  /** Endpoint override, e.g. `http://127.0.0.1:4566` for a local emulator. */
  endpoint?: string | undefined;
  /** Region; default from the AWS environment, or `us-east-1` with an endpoint. */
  region?: string | undefined;
  /** Static credentials; default the AWS provider chain. Emulators accept any (see EMULATOR_CREDENTIALS). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** SDK attempts per call (throttling, network errors). Default 3. */
  maxAttempts?: number | undefined;
}

/** Credentials for a local emulator, which checks none. */
export const EMULATOR_CREDENTIALS = { accessKeyId: "mqgate-local", secretAccessKey: "mqgate-local" } as const;

export function createSqsClient(opts: SqsClientOptions = {}): SQSClient {
  const config: SQSClientConfig = { maxAttempts: opts.maxAttempts ?? 3 };
  if (opts.region !== undefined) config.region = opts.region;
  if (opts.credentials !== undefined) config.credentials = opts.credentials;
  if (opts.endpoint !== undefined) {
    config.endpoint = opts.endpoint;
    config.useQueueUrlAsEndpoint = false;
    config.region ??= "us-east-1";
  }
  return new SQSClient(config);
}

function errorName(err: unknown): string {
  if (typeof err !== "object" || err === null) return "";
  const e = err as { name?: unknown; Code?: unknown; __type?: unknown };
  return [e.name, e.Code, e.__type].filter((v) => typeof v === "string").join(" ");
}

/** The queue does not exist (deleted, or never created). */
export function isQueueMissing(err: unknown): boolean {
  return /QueueDoesNotExist|NonExistentQueue/.test(errorName(err));
}

/** CreateQueue found a queue of that name with other attributes. */
export function isQueueNameTaken(err: unknown): boolean {
  return /QueueNameExists|QueueAlreadyExists/.test(errorName(err));
}

/** AWS refuses to create a queue within 60 s of deleting one of the same name. */
export function isQueueDeletedRecently(err: unknown): boolean {
  return /QueueDeletedRecently/.test(errorName(err));
}

/** The call was aborted through its AbortSignal. */
export function isAborted(err: unknown): boolean {
  return /AbortError/.test(errorName(err));
}

/** `Name: message` of anything thrown, for error messages. */
export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

const TOKEN = /^[\x21-\x7e]{1,128}$/;

/**
 * A MessageGroupId / MessageDeduplicationId for `s`: SQS allows 1–128 characters of ASCII letters, digits and
 * punctuation. Anything else (an MQTT clientId may be any UTF-8 up to 65,535 bytes) is replaced by a hash, so
 * equal inputs still give equal tokens.
 */
export function sqsToken(s: string): string {
  if (TOKEN.test(s)) return s;
  return `h:${createHash("sha256").update(s, "utf8").digest("base64url")}`;
}

/** A sleep that an AbortSignal cuts short (resolves, never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
