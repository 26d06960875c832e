import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Builds dist/ once before any test file runs. Several files spawn the bundled broker; building here means they
 * never race to rewrite dist/ at the same moment (their own `--if-stale` builds then do nothing).
 */
export default function setup(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  execFileSync(process.execPath, ["scripts/build.mjs", "--if-stale"], { cwd: root, stdio: "inherit", timeout: 120_000 });
}
