/**
 * CloudWatch Embedded Metric Format (EMF): metrics written as one structured JSON log line, which CloudWatch Logs
 * turns into metrics without an API call (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 * A `MetricSet` sums what a request records; `emfDocument` writes it with the `_aws` envelope. One builder for
 * the REST Lambda (functions/telemetry.ts) and the broker (broker/emf.ts).
 */

/** The CloudWatch units mqgate uses (a subset of the specification's). */
export type MetricUnit = "Count" | "Seconds" | "Milliseconds" | "Bytes" | "None";

/** The specification's limits on one document. */
export const MAX_METRICS = 100;
export const MAX_DIMENSIONS = 30;
/** Longest dimension name and value, namespace and metric name CloudWatch accepts. */
export const MAX_DIMENSION_NAME_LENGTH = 250;
export const MAX_DIMENSION_VALUE_LENGTH = 1024;
export const MAX_NAMESPACE_LENGTH = 255;
export const MAX_METRIC_NAME_LENGTH = 255;

interface Value {
  unit: MetricUnit;
  value: number;
}

/** Named metric values, summed as they are added (one request's publishes, say). */
export class MetricSet {
  private readonly values = new Map<string, Value>();

  /** Adds `value` to the metric `name` (created at 0). A name keeps the unit it was first added with. */
  add(name: string, unit: MetricUnit, value: number): void {
    if (!Number.isFinite(value)) throw new RangeError(`metric ${name}: ${value} is not a finite number`);
    const v = this.values.get(name);
    if (v === undefined) {
      if (this.values.size >= MAX_METRICS) throw new RangeError(`an EMF document holds at most ${MAX_METRICS} metrics`);
      this.values.set(name, { unit, value });
      return;
    }
    if (v.unit !== unit) throw new TypeError(`metric ${name} is in ${v.unit}, not ${unit}`);
    v.value += value;
  }

  /** The summed value of `name`, or undefined when nothing was recorded. */
  get(name: string): number | undefined {
    return this.values.get(name)?.value;
  }

  get size(): number {
    return this.values.size;
  }

  entries(): IterableIterator<[string, Value]> {
    return this.values.entries();
  }
}

export interface EmfOptions {
  namespace: string;
  /** Dimension values (low cardinality: never a client id or a topic). */
  dimensions: Readonly<Record<string, string>>;
  /** Which combinations of `dimensions` to aggregate by; `[["A", "B"], ["A"]]` gives per-B and total series. */
  dimensionSets: readonly (readonly string[])[];
  /** Extra members of the log line (searchable in Logs Insights, not metrics): a request id, a status. */
  properties?: Readonly<Record<string, string | number | boolean>>;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: MetricUnit }[] }[];
  };
  [member: string]: unknown;
}

/**
 * The EMF document of `metrics`: the `_aws` metadata, then the dimension values, the properties and the metric
 * values as top-level members. @throws TypeError when a name is used twice or a dimension set names an unknown
 * dimension.
 */
export function emfDocument(metrics: MetricSet, opts: EmfOptions): EmfDocument {
  const doc: EmfDocument = {
    _aws: {
      Timestamp: opts.timestamp,
      CloudWatchMetrics: [
        {
          Namespace: opts.namespace,
          Dimensions: opts.dimensionSets.map((set) => {
            if (set.length > MAX_DIMENSIONS) throw new TypeError(`a dimension set holds at most ${MAX_DIMENSIONS} dimensions`);
            for (const d of set) if (!Object.hasOwn(opts.dimensions, d)) throw new TypeError(`dimension set names '${d}', which has no value`);
            return [...set];
          }),
          Metrics: [...metrics.entries()].map(([name, v]) => ({ Name: name, Unit: v.unit })),
        },
      ],
    },
  };
  const put = (name: string, value: unknown): void => {
    if (Object.hasOwn(doc, name)) throw new TypeError(`'${name}' is used twice in the EMF document`);
    doc[name] = value;
  };
  for (const [name, value] of Object.entries(opts.dimensions)) put(name, value);
  for (const [name, value] of Object.entries(opts.properties ?? {})) put(name, value);
  for (const [name, v] of metrics.entries()) put(name, v.value);
  return doc;
}
