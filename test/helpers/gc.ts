import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * A full garbage collection on demand, without starting the test process with --expose-gc (the flag is set at run
 * time and V8's `gc` taken from a fresh context). For tests that bound what stays alive or where it lives.
 */
export function fullGc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}
