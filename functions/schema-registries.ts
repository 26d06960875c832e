import * as z from "zod";

/**
 * What the REST API's schemas share (functions/schemas.ts re-exports it with request-schemas.ts and
 * response-schemas.ts): the two registries whose entries become named OpenAPI components, the API's limits and
 * the QoS schema.
 */

export const requestSchemas = z.registry<{ id: string }>();
export const responseSchemas = z.registry<{ id: string }>();

/** Largest page a list call returns. */
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;
/** Messages per batch publish. */
export const MAX_BATCH = 100;
/** Subscriptions per add call. */
export const MAX_SUBSCRIBE = 100;
/** Top topics and largest queues per stats call. */
export const MAX_TOP = 100;

export const Qos = z.literal([0, 1, 2]).meta({ description: "MQTT quality of service: 0 at most once, 1 at least once, 2 exactly once." });
