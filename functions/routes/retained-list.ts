import { hasExpired } from "../../core/readable-properties.js";
import { keyCoversTopic, keyOverlapsFilter } from "../api-keys.js";
import { ForbiddenError } from "../errors.js";
import { retainedMessage } from "../present.js";
import { defineRoute } from "../route.js";
import { RetainedListQuery, RetainedPage } from "../schemas.js";
import { storeCall } from "../store-errors.js";
import { checkTopicFilter } from "../validate.js";

export const retainedListRoute = defineRoute({
  method: "GET",
  path: "/v1/retained",
  operationId: "listRetained",
  summary: "List retained messages",
  description:
    "Retained messages ordered by topic, optionally only those matching a topic filter (MQTT matching: a filter starting " +
    "with a wildcard does not match $ topics), each with the time it was last retained. A filter is looked up through " +
    "the retained index: the cost follows the matches, not the retained set. Only topics inside the key's topic patterns " +
    "are listed, so a page may hold fewer items than `limit` (even none) while `cursor` is not null; the listing ends at a " +
    "null cursor. Cursors are sealed: they reveal nothing, in particular no topic outside the key's patterns. Each message comes " +
    "with its MQTT 5 properties, if it has any; retained messages whose Message Expiry Interval has passed are not listed.",
  tag: "retained",
  scope: "read",
  query: RetainedListQuery,
  responses: { 200: { description: "One page of retained messages.", schema: RetainedPage } },
  problems: [400, 403],
  async handle({ query }, { backend, key, limits }) {
    const { filter, cursor, limit, encoding } = query;
    if (filter !== undefined) {
      checkTopicFilter(filter, limits.topic, { parameter: "filter" });
      if (!keyOverlapsFilter(key, filter)) {
        throw new ForbiddenError(`API key '${key.name}' may not read topics matching '${filter}'`, [{ parameter: "filter", detail: "does not overlap the API key's topic patterns" }]);
      }
    }
    const page = await storeCall(
      () => (filter === undefined ? backend.store.listRetained({ cursor: cursor ?? null, limit }) : backend.store.scanRetained(filter, { cursor: cursor ?? null, limit })),
      "cursor",
    );
    const now = Date.now();
    const items = page.items.filter((m) => keyCoversTopic(key, m.topic) && !hasExpired(m.props, m.publishedAt, now)).map((m) => retainedMessage(m, encoding, now));
    return { status: 200, body: { items, cursor: page.cursor } };
  },
});
