/** The EMF builder lives in core/metrics/emf.ts (shared with the broker's exporter); the gateway imports it here. */
export * from "../core/metrics/emf.js";
