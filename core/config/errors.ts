/** Where a configuration problem was found. */
export type ConfigIssueSource =
  /** The config file: unreadable, unparsable or an invalid key/value. */
  | "file"
  /** An MQGATE_* environment variable. */
  | "env"
  /** `loadConfig({ overrides })`. */
  | "overrides"
  /** The merged result: cross-field rules (e.g. TLS port without certificate). */
  | "config";

export interface ConfigIssue {
  source: ConfigIssueSource;
  /** Config file path (source "file") or variable name (source "env"). */
  origin?: string | undefined;
  /** Dotted key path, e.g. "limits.maxInflight", when the problem concerns one key. */
  keyPath?: string | undefined;
  /** Complete, human-readable line, e.g. "MQGATE_MQTT_PORT must be an integer 0..65535 or 'off', got 'abc'". */
  message: string;
}

/** Invalid configuration. Lists every problem found, not only the first. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const n = issues.length;
    super(
      `Invalid mqgate configuration (${n} problem${n === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.message}`).join("\n"),
    );
    this.issues = issues;
  }
}
