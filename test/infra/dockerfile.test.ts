import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { brokerNodeOptionsValue, IMAGE_JEMALLOC_PATH, withBrokerEnv } from "../../broker/node-flags.js";
import { ACL_DIR, APP_DIR, BROKER_COMMAND, brokerHealthCheck, brokerNodeOptions, CONTAINER_PORTS, HEALTHCHECK_SCRIPT, STACK_SCRIPT } from "../../infra/plan/broker.js";
import { NODE_MAJOR } from "../../infra/plan/runtime.js";
import { DEFAULT_SETTINGS } from "../../infra/plan/settings.js";

// infra/broker.Dockerfile cannot be built here (no Docker daemon); these checks read it and hold it to the plan
// that infra/broker.ts deploys, and to scripts/build.mjs, whose output it copies.

const root = new URL("../..", import.meta.url).pathname;
const dockerfile = readFileSync(join(root, "infra/broker.Dockerfile"), "utf8");

interface Stage {
  from: string;
  name: string;
  lines: string[];
}

/** Instructions (continuation lines joined, comments dropped), grouped by stage. */
function parse(text: string): { args: string[]; stages: Stage[] } {
  const instructions = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const args: string[] = [];
  const stages: Stage[] = [];
  for (const line of instructions) {
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) stages.push({ from: from[1]!, name: from[2] ?? "", lines: [line] });
    else if (stages.length === 0) args.push(line);
    else stages[stages.length - 1]!.lines.push(line);
  }
  return { args, stages };
}

const { args, stages } = parse(dockerfile);
const stage = (name: string): Stage => {
  const s = stages.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no stage ${name}`);
  return s;
};
const find = (s: Stage, re: RegExp) => s.lines.filter((l) => re.test(l));

describe("infra/broker.Dockerfile", () => {
  it("is multi-stage on the Node LTS the functions use (node:24 slim)", () => {
    expect(args).toContain(`ARG NODE_VERSION=${NODE_MAJOR}`);
    expect(stages.map((s) => s.name)).toEqual(["build", "jemalloc", "runtime", "broker-acl", "broker"]);
    for (const s of ["build", "jemalloc", "runtime"]) expect(stage(s).from).toBe("node:${NODE_VERSION}-bookworm-slim");
    // Everything that runs a command runs on the build machine's platform: an arm64 image needs no emulation.
    for (const s of ["build", "jemalloc"]) expect(stage(s).lines[0]).toContain("--platform=$BUILDPLATFORM");
    for (const s of ["runtime", "broker-acl", "broker"]) expect(find(stage(s), /^RUN /)).toEqual([]);
  });

  it("builds with `npm run build` from every source directory scripts/build.mjs watches, and copies its bundle", () => {
    const build = readFileSync(join(root, "scripts/build.mjs"), "utf8");
    const dirs = /const sourceDirs = \[([^\]]*)\]/.exec(build)?.[1]?.match(/"([^"]+)"/g)?.map((d) => d.slice(1, -1));
    expect(dirs?.length).toBeGreaterThan(0);
    for (const dir of dirs ?? []) expect(find(stage("build"), new RegExp(`^COPY ${dir} \\./${dir}$`))).toHaveLength(1);
    expect(find(stage("build"), /^RUN npm ci /)).toHaveLength(1);
    expect(find(stage("build"), /^RUN npm run build$/)).toHaveLength(1);
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toBe("node scripts/build.mjs");
    expect(find(stage("runtime"), /^COPY --from=build /)).toEqual([
      `COPY --from=build /src/dist/broker.mjs /src/dist/broker.mjs.map /src/dist/${STACK_SCRIPT.slice(`${APP_DIR}/dist/`.length)} ./dist/`,
    ]);
  });

  it("runs the bundle as the unprivileged node user, with the command infra/plan/broker.ts describes", () => {
    const runtime = stage("runtime");
    expect(find(runtime, /^WORKDIR /)).toEqual([`WORKDIR ${APP_DIR}`]);
    expect(find(runtime, /^USER /)).toEqual(["USER node"]);
    expect(find(runtime, /^CMD /)).toEqual([`CMD ${JSON.stringify(BROKER_COMMAND).replace(/,/g, ", ")}`]);
    // Decision 058: Node.js would decode the bundle's whole source map at start (about 50 MB per broker).
    expect(BROKER_COMMAND).not.toContain("--enable-source-maps");
    expect(brokerNodeOptionsValue()).not.toMatch(/source-maps/);
    expect(find(runtime, /^STOPSIGNAL /)).toEqual(["STOPSIGNAL SIGTERM"]);
    // The young generation and V8's helper pool as broker/node-flags.ts sets them (decisions 051 and 056), in
    // NODE_OPTIONS so the task's own replaces them.
    // glibc's arenas as broker/node-flags.ts limits them (decision 055), as the local cluster and the benchmarks do.
    expect(find(runtime, /^ENV /)).toEqual([
      "ENV NODE_ENV=production",
      `ENV NODE_OPTIONS="${brokerNodeOptionsValue()}"`,
      `ENV MALLOC_ARENA_MAX=${withBrokerEnv({})["MALLOC_ARENA_MAX"]}`,
      // jemalloc as broker/node-flags.ts configures it for the local cluster and the benchmarks (decision 059).
      `ENV LD_PRELOAD=${IMAGE_JEMALLOC_PATH}`,
      `ENV MALLOC_CONF=${withBrokerEnv({}, IMAGE_JEMALLOC_PATH)["MALLOC_CONF"]}`,
    ]);
    // Debian's library for the image's architecture, fetched by the jemalloc stage, where LD_PRELOAD points.
    const fetch = find(stage("jemalloc"), /^(ARG|RUN) /).join("\n");
    expect(fetch).toContain("ARG TARGETARCH");
    expect(fetch).toContain('dpkg --add-architecture "$TARGETARCH"');
    expect(fetch).toContain('apt-get download "libjemalloc2:$TARGETARCH"');
    expect(find(runtime, /^COPY --from=jemalloc /)).toEqual([
      `COPY --from=jemalloc /out/libjemalloc.so.2 ${IMAGE_JEMALLOC_PATH}`,
      "COPY --from=jemalloc /out/copyright /usr/share/doc/libjemalloc2/copyright",
    ]);
    expect(brokerNodeOptions(DEFAULT_SETTINGS.brokerSemiSpaceMiB)).toEqual({ NODE_OPTIONS: brokerNodeOptionsValue() });
    for (const s of ["broker-acl", "broker"]) {
      expect(stage(s).from).toBe("runtime");
      expect(find(stage(s), /^(USER|CMD|ENTRYPOINT|RUN) /)).toEqual([]); // still node, same command
    }
    const exposed = find(runtime, /^EXPOSE /)[0]?.split(/\s+/).slice(1).map(Number);
    expect(exposed?.sort()).toEqual([CONTAINER_PORTS.mqtt, CONTAINER_PORTS.ws].sort());
  });

  it("has the health check ECS runs (same probe, same timings)", () => {
    const h = brokerHealthCheck();
    expect(find(stage("runtime"), /^COPY infra\/broker-healthcheck\.mjs /)).toEqual([
      `COPY infra/broker-healthcheck.mjs ./${HEALTHCHECK_SCRIPT.slice(APP_DIR.length + 1)}`,
    ]);
    expect(find(stage("runtime"), /^HEALTHCHECK /)).toEqual([
      `HEALTHCHECK --interval=${h.intervalSeconds}s --timeout=${h.timeoutSeconds}s --start-period=${h.startPeriodSeconds}s ` +
        `--retries=${h.retries} CMD ${JSON.stringify(h.command).replace(/,/g, ", ")}`,
    ]);
  });

  it("broker-acl adds the ACL file where MQGATE_ACL_FILE points", () => {
    expect(find(stage("broker-acl"), /^ARG /)).toEqual([`ARG ACL_FILE=${DEFAULT_SETTINGS.aclFile}`]);
    expect(find(stage("broker-acl"), /^COPY /)).toEqual([`COPY \${ACL_FILE} ${ACL_DIR}/`]);
  });
});

describe(".dockerignore", () => {
  const ignore = readFileSync(join(root, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));

  it("keeps local state out of the build context (SST appends .sst itself when it is missing)", () => {
    for (const p of [".git", ".sst", "node_modules", "dist"]) expect(ignore).toContain(p);
  });

  it("does not hide anything the Dockerfile copies", () => {
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    copied.push(DEFAULT_SETTINGS.aclFile);
    for (const src of copied.filter((s) => !s.startsWith("$"))) {
      for (const pattern of ignore) expect(src === pattern || src.startsWith(`${pattern}/`), `${src} vs ${pattern}`).toBe(false);
    }
  });
});
