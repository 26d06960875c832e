import { InvalidStoreInput } from "./errors.js";
import { ROUTE_PAGE_MAX } from "./routes-types.js";
import { checkInt, checkText } from "./validate.js";

export function checkRouteLimit(limit: number): void {
  checkInt(limit, "limit", 1);
  if (limit > ROUTE_PAGE_MAX) throw new InvalidStoreInput(`limit must be <= ${ROUTE_PAGE_MAX}, got ${limit}`);
}

export function checkRouteUpdate(node: string, add: readonly string[], remove: readonly string[]): void {
  checkText(node, "node");
  if (node === "") throw new InvalidStoreInput("node must not be empty");
  for (const f of [...add, ...remove]) {
    checkText(f, "filter");
    if (f === "") throw new InvalidStoreInput("a route filter must not be empty");
  }
}
