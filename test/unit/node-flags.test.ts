import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BROKER_JEMALLOC_CONF,
  BROKER_MALLOC_ARENAS,
  BROKER_SEMI_SPACE_MIB,
  BROKER_V8_POOL_SIZE,
  brokerNodeFlags,
  brokerNodeOptionsValue,
  debianJemallocPath,
  installedJemalloc,
  semiSpaceFlag,
  withBrokerEnv,
} from "../../broker/node-flags.js";

// The flags the broker ships with (decision 051). The Dockerfile's copy is checked in test/infra/dockerfile.test.ts.

const root = new URL("../..", import.meta.url).pathname;

/**
 * The size (MiB) V8's young generation settles at under enough short-lived garbage, with many objects surviving each
 * scavenge, to grow it to its maximum, in a fresh Node started with `flags`.
 *
 * It is the most frequent of 150 readings taken through the second half of the churn, not one reading at the end: V8
 * 13 lets the young generation grow past its target for a while when a scavenge cannot run at once
 * (`IsNewSpaceAllowedToGrowAboveTargetCapacity`). One CI run on Node 24 read 7 MiB at the end with a 2 MiB cap, where
 * 300 runs here read 4.
 */
function grownNewSpaceMiB(flags: string[], env: NodeJS.ProcessEnv = { PATH: process.env["PATH"] ?? "" }): number {
  const churn =
    "const v8=require('v8');const seen=new Map();let keep=[];" +
    "for(let i=0;i<3e6;i++){keep.push({a:i,b:[i]});if(keep.length>2e5)keep=[];" +
    "if(i>=1.5e6&&i%1e4===0){const m=v8.getHeapSpaceStatistics().find((s)=>s.space_name==='new_space').space_size/1048576;" +
    "seen.set(m,(seen.get(m)??0)+1);}}" +
    "process.stdout.write(String([...seen].sort((x,y)=>y[1]-x[1])[0][0]))";
  return Number(execFileSync(process.execPath, [...flags, "-e", churn], { env, encoding: "utf8" }));
}

describe("broker/node-flags: the broker's young generation", () => {
  it("is 8 MiB per semi-space: half what Node 20 picks, an eighth of what Node 24 picks", () => {
    expect(BROKER_SEMI_SPACE_MIB).toBe(8);
    expect(semiSpaceFlag()).toBe("--max-semi-space-size=8");
    expect(semiSpaceFlag(2)).toBe("--max-semi-space-size=2");
  });

  it("keeps V8's young generation at two semi-spaces of that size at most, on the Node running this test", () => {
    // Without the flag this grows to 32 MiB on Node 20 and to 64–128 MiB on Node 24.22 (V8 13.6 sizes it from the heap limit).
    expect(grownNewSpaceMiB(brokerNodeFlags({}))).toBeLessThanOrEqual(2 * BROKER_SEMI_SPACE_MIB);
    // And a smaller size is honoured, so the flag is what sets it.
    expect(grownNewSpaceMiB([semiSpaceFlag(2)])).toBeLessThanOrEqual(4);
  });

  it("gives way to NODE_OPTIONS that already size the young generation or V8's pool (an operator's choice)", () => {
    expect(brokerNodeFlags({})).toEqual(["--max-semi-space-size=8", "--v8-pool-size=1"]);
    expect(brokerNodeFlags({ NODE_OPTIONS: "--enable-source-maps" })).toEqual(["--max-semi-space-size=8", "--v8-pool-size=1"]);
    expect(brokerNodeFlags({ NODE_OPTIONS: "--max-semi-space-size=4" })).toEqual(["--v8-pool-size=1"]);
    expect(brokerNodeFlags({ NODE_OPTIONS: "--enable-source-maps --max_semi_space_size=4" })).toEqual(["--v8-pool-size=1"]); // V8 takes either spelling
    expect(brokerNodeFlags({ NODE_OPTIONS: "--v8-pool-size=4" })).toEqual(["--max-semi-space-size=8"]);
    expect(brokerNodeFlags({ NODE_OPTIONS: brokerNodeOptionsValue(16) })).toEqual([]);
    const env = { PATH: process.env["PATH"] ?? "", NODE_OPTIONS: semiSpaceFlag(2) };
    expect(grownNewSpaceMiB(brokerNodeFlags(env), env)).toBeLessThanOrEqual(4);
  });

  it("is what `npm start` runs the broker with", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts["start"]).toMatch(new RegExp(`&& node ${brokerNodeFlags({}).join(" ")} dist/broker\\.mjs$`));
  });
});

describe("broker/node-flags: V8's pool of helper threads (decision 056)", () => {
  it("is one thread: a process started with the flags runs three fewer threads than Node's own pool of four", () => {
    const threads = (flags: string[]) =>
      Number(execFileSync(process.execPath, [...flags, "-e", "setTimeout(()=>process.stdout.write(String(require('fs').readdirSync('/proc/self/task').length)),200)"], { env: { PATH: process.env["PATH"] ?? "" }, encoding: "utf8" }));
    expect(BROKER_V8_POOL_SIZE).toBe(1);
    expect(threads([]) - threads(brokerNodeFlags({}))).toBe(3);
  });
});

describe("broker/node-flags: the broker's process environment (decision 055)", () => {
  it("limits glibc to two malloc arenas unless the environment already sets a number", () => {
    expect(BROKER_MALLOC_ARENAS).toBe(2);
    expect(withBrokerEnv({ PATH: "/bin" }, null)).toEqual({ PATH: "/bin", MALLOC_ARENA_MAX: "2" });
    expect(withBrokerEnv({ MALLOC_ARENA_MAX: "4" }, null)).toEqual({ MALLOC_ARENA_MAX: "4" });
  });

  it("leaves a process one arena besides the main one, where glibc's own would give each thread its own", () => {
    // Six threads that each malloc 4 MB (test/helpers/malloc-arenas.mjs counts the arenas glibc mapped).
    const arenas = (env: NodeJS.ProcessEnv) => Number(execFileSync(process.execPath, [join(root, "test/helpers/malloc-arenas.mjs")], { env, encoding: "utf8" }));
    const path = { PATH: process.env["PATH"] ?? "" };
    expect(arenas(path)).toBeGreaterThan(BROKER_MALLOC_ARENAS); // glibc's default: the count can see them
    expect(arenas(withBrokerEnv(path, null))).toBe(BROKER_MALLOC_ARENAS - 1);
  });
});

describe("broker/node-flags: jemalloc in place of glibc's malloc (decision 059)", () => {
  it("preloads the library it is given with the broker's configuration; the caller's own LD_PRELOAD or MALLOC_CONF wins", () => {
    const lib = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
    expect(withBrokerEnv({ PATH: "/bin" }, lib)).toEqual({ PATH: "/bin", MALLOC_ARENA_MAX: "2", LD_PRELOAD: lib, MALLOC_CONF: BROKER_JEMALLOC_CONF });
    expect(withBrokerEnv({ LD_PRELOAD: "" }, lib)).toEqual({ MALLOC_ARENA_MAX: "2", LD_PRELOAD: "" }); // an empty one turns it off
    expect(withBrokerEnv({ MALLOC_CONF: "narenas:2" }, lib)).toMatchObject({ LD_PRELOAD: lib, MALLOC_CONF: "narenas:2" });
    // Already on jemalloc (a parent's LD_PRELOAD): the broker's configuration, not jemalloc's defaults.
    expect(withBrokerEnv({ LD_PRELOAD: "/opt/libjemalloc.so.2" }, null)).toEqual({ MALLOC_ARENA_MAX: "2", LD_PRELOAD: "/opt/libjemalloc.so.2", MALLOC_CONF: BROKER_JEMALLOC_CONF });
    expect(withBrokerEnv({ LD_PRELOAD: "/opt/libother.so" }, lib)).toEqual({ MALLOC_ARENA_MAX: "2", LD_PRELOAD: "/opt/libother.so" });
    expect(BROKER_JEMALLOC_CONF.split(",")).toEqual(["background_thread:true", "dirty_decay_ms:1000", "muzzy_decay_ms:0", "narenas:1"]);
  });

  it("knows where Debian puts the library on the image's architectures", () => {
    expect(debianJemallocPath("x64")).toBe("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
    expect(debianJemallocPath("arm64")).toBe("/usr/lib/aarch64-linux-gnu/libjemalloc.so.2");
    expect(debianJemallocPath("s390x")).toBeNull();
  });

  it("a process started with the broker's environment runs on jemalloc, with its background thread (.ci/run installs libjemalloc2)", () => {
    const lib = installedJemalloc();
    expect(lib, "Debian's libjemalloc2 is not installed: apt-get install libjemalloc2").not.toBeNull();
    const probe = "setTimeout(()=>{const fs=require('fs');const maps=fs.readFileSync('/proc/self/maps','utf8');" +
      "const threads=fs.readdirSync('/proc/self/task').map(t=>fs.readFileSync('/proc/self/task/'+t+'/comm','utf8').trim());" +
      "process.stdout.write(JSON.stringify({jemalloc:maps.includes('libjemalloc'),threads}))},200)";
    const run = (env: NodeJS.ProcessEnv) => JSON.parse(execFileSync(process.execPath, ["-e", probe], { env, encoding: "utf8" })) as { jemalloc: boolean; threads: string[] };
    const withIt = run(withBrokerEnv({ PATH: process.env["PATH"] ?? "" }));
    expect(withIt.jemalloc).toBe(true);
    expect(withIt.threads).toContain("jemalloc_bg_thd"); // MALLOC_CONF was read: background_thread:true
    const without = run(withBrokerEnv({ PATH: process.env["PATH"] ?? "", LD_PRELOAD: "" }));
    expect(without.jemalloc).toBe(false);
    expect(without.threads).not.toContain("jemalloc_bg_thd");
  });
});
