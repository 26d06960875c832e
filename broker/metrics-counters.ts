import { Counter, type Registry } from "prom-client";

/** Registers a counter read at scrape time from `read` (a count kept elsewhere). Once per registry. */
export function scrapedCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * Registers a counter with one label, read at scrape time from a record of counts: one series per key of the
 * record, `label` set to the key. Once per registry.
 */
export function labeledCounter(registry: Registry, name: string, help: string, label: string, read: () => Readonly<Record<string, number>>): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      for (const [value, n] of Object.entries(read())) this.inc({ [label]: value }, n);
    },
  });
}
