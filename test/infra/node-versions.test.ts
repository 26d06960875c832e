import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LAMBDA_RUNTIME, NODE_MAJOR } from "../../infra/plan/runtime.js";

// Decision 014: the supported Node.js versions are written in several places; they must say the same thing.
const root = join(import.meta.dirname, "..", "..");
const read = (path: string): string => readFileSync(join(root, path), "utf8");
const pkg = JSON.parse(read("package.json")) as { engines: { node: string }; dependencies: Record<string, string> };

/** "20.19" from ">=20.19": the minimum the engines field admits. */
function engineMinimum(range: string): [number, number] {
  const m = /^>=(\d+)\.(\d+)(?:\.\d+)?$/.exec(range.trim());
  if (m === null) throw new Error(`engines.node should be a plain ">=MAJOR.MINOR" range, got "${range}"`);
  return [Number(m[1]), Number(m[2])];
}

describe("supported Node.js versions (decision 014)", () => {
  const [major, minor] = engineMinimum(pkg.engines.node);

  it("README and docs/deploy.md name the engines minimum and the production major", () => {
    for (const doc of ["README.md", "docs/deploy.md"]) {
      const text = read(doc);
      expect(text, doc).toContain(`Node.js ${major}.${minor} or later`);
      expect(text, doc).toContain(`Node.js ${NODE_MAJOR}`);
    }
  });

  it("CI runs the suite on the production major as well as on the machine's Node", () => {
    const ci = read(".ci/run");
    const pinned = /^NODE24_VERSION=(\d+)\.\d+\.\d+$/m.exec(ci);
    expect(pinned?.[1]).toBe(String(NODE_MAJOR));
    expect(ci).toMatch(/run_suite "machine Node"\n/);
    expect(ci).toMatch(/run_suite "Node \$NODE24_VERSION" "\$bin24"/);
  });

  it("the image and the Lambda runtime use the production major, which is at least the minimum", () => {
    expect(read("infra/broker.Dockerfile")).toContain(`ARG NODE_VERSION=${NODE_MAJOR}\n`);
    expect(LAMBDA_RUNTIME).toBe(`nodejs${NODE_MAJOR}.x`);
    expect(NODE_MAJOR).toBeGreaterThanOrEqual(major);
  });

  it("the AWS SDK is pinned to an exact version whose own engines admit the minimum", () => {
    const sdk = pkg.dependencies["@aws-sdk/client-sqs"];
    expect(sdk).toMatch(/^\d+\.\d+\.\d+$/);
    const installed = JSON.parse(read("node_modules/@aws-sdk/client-sqs/package.json")) as { version: string; engines: { node: string } };
    expect(installed.version).toBe(sdk);
    const [sdkMajor, sdkMinor] = engineMinimum(installed.engines.node);
    expect(sdkMajor * 1000 + sdkMinor).toBeLessThanOrEqual(major * 1000 + minor);
  });

  it("the build targets the minimum, so the bundle runs on every supported version", () => {
    expect(read("scripts/build.mjs")).toContain(`node${major}`);
    // No decision record claims another minimum.
    const decision = readdirSync(join(root, "docs/decisions")).find((f) => f.startsWith("014-"));
    expect(decision).toBeDefined();
    expect(read(`docs/decisions/${decision}`)).toContain(`Node.js ${major}.${minor}`);
  });
});
