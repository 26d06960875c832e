/** Limits that apply to topic names and filters, from configuration. */
export interface TopicLimits {
  /** Maximum length of a topic name or filter in UTF-8 bytes (the protocol allows 65535). */
  maxTopicLength: number;
  /** Maximum number of levels (segments separated by '/'). */
  maxTopicLevels: number;
}

export const DEFAULT_TOPIC_LIMITS: TopicLimits = { maxTopicLength: 65535, maxTopicLevels: 128 };
