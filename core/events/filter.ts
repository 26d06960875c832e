import * as z from "zod";
import { topicMatches } from "../topic/match.js";
import { DEFAULT_TOPIC_LIMITS } from "../topic/types.js";
import { validateTopicFilter } from "../topic/validate.js";

/**
 * Which published topics produce `message.published` events. Default: every topic except `$SYS/…`.
 *
 * `include` absent means every topic. Filters use MQTT matching, including its `$` rule: `#` and `+` at the
 * first level do not match topics starting with `$` [MQTT-4.7.2-1], so `include: ["#"]` leaves out every
 * `$`-topic; name them (`"$aws/#"`) to include them. `exclude` wins over `include`.
 */
export interface PublishedTopicsConfig {
  include?: string[] | undefined;
  exclude?: string[] | undefined;
}

export const DEFAULT_EXCLUDED_TOPICS: readonly string[] = ["$SYS/#"];

const filterList = z.array(
  z.string().superRefine((f, ctx) => {
    const problem = validateTopicFilter(f, DEFAULT_TOPIC_LIMITS);
    if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
  }),
);

/** The config section's schema, for the config loader. */
export const publishedTopicsSchema = z.strictObject({ include: filterList.optional(), exclude: filterList.optional() });

/** A predicate over topic names; throws on an invalid filter (config is checked once, at start). */
export function publishedTopicFilter(config: PublishedTopicsConfig = {}): (topic: string) => boolean {
  const parsed = publishedTopicsSchema.parse(config);
  const include = parsed.include;
  const exclude = parsed.exclude ?? [...DEFAULT_EXCLUDED_TOPICS];
  return (topic) => {
    for (const f of exclude) if (topicMatches(f, topic)) return false;
    if (include === undefined) return true;
    for (const f of include) if (topicMatches(f, topic)) return true;
    return false;
  };
}
