// Moved to scripts/lib so the local cluster (npm run cluster) and the tests start Redis the same way.
export * from "../../scripts/lib/redis-server.js";
