// Moved to scripts/lib so the local cluster (npm run cluster) and the tests start fauxqs the same way.
export * from "../../scripts/lib/fauxqs.js";
