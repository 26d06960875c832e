#!/usr/bin/env node
// Where a broker's CPU goes, from a `perf record -g` of its process (docs/benchmarks.md, "Where the fleet's CPU goes"):
// `node bench/perf-groups.mjs perf.data [µs-per-message]` groups the samples as that section's table does (the
// kernel's write, read and epoll calls; JIT code; V8 builtins; V8's runtime and API; Node's C++; libuv, libc and the
// rest) and, given the run's CPU per message, converts the shares to µs per message. Record with the broker started
// with `--perf-basic-prof` (`node bench/run.mjs ... --mqgate-flags "--perf-basic-prof"`), then
// `perf record -F 1999 -g -p <broker pid> -o perf.data -- sleep 12` within the measured interval.
import { execFileSync } from "node:child_process";

const [file, perMessage] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write("usage: node bench/perf-groups.mjs perf.data [µs CPU per message]\n");
  process.exit(2);
}
const report = (args) => execFileSync("perf", ["report", "-i", file, "--stdio", "-g", "none", ...args], { encoding: "utf8", maxBuffer: 256 * 2 ** 20 });

/** Self time by (dso, symbol), in % of all samples. */
const self = [];
for (const line of report(["--no-children", "--sort", "dso,sym"]).split("\n")) {
  const m = /^\s*([\d.]+)%\s+(.+?)\s+\[([.k])\]\s+(.*)$/.exec(line);
  if (m !== null) self.push({ pct: Number(m[1]), dso: m[2].trim(), kernel: m[3] === "k", sym: m[4].trim() });
}
/** Time under a kernel entry point, children included, in %. */
const under = new Map();
for (const line of report(["--children", "--sort", "sym"]).split("\n")) {
  const m = /^\s*([\d.]+)%\s+[\d.]+%\s+\[k\]\s+(\S+)/.exec(line);
  if (m !== null && !under.has(m[2])) under.set(m[2], Number(m[1]));
}

const groups = new Map();
const add = (name, pct) => groups.set(name, (groups.get(name) ?? 0) + pct);
const kernel = self.filter((s) => s.kernel).reduce((a, s) => a + s.pct, 0);
const write = under.get("ksys_write") ?? 0;
const read = under.get("ksys_read") ?? 0;
const epoll = under.get("__x64_sys_epoll_pwait") ?? under.get("__x64_sys_epoll_wait") ?? 0;
add("kernel: write (incl. loopback delivery to the reader)", write);
add("kernel: read", read);
add("kernel: epoll", epoll);
add("kernel: the rest", kernel - write - read - epoll);
for (const s of self) {
  if (s.kernel) continue;
  if (s.dso.startsWith("[JIT]")) add("JavaScript: JIT code", s.pct);
  else if (s.sym.startsWith("Builtins_")) add("JavaScript: V8 builtins", s.pct);
  else if (/^v8::internal::(compiler|maglev)|GraphReducer|Pipeline/.test(s.sym)) add("libuv, libc, V8's compiler and the rest", s.pct);
  else if (s.sym.startsWith("v8::")) add("V8 runtime and API", s.pct);
  else if (s.sym.startsWith("node::")) add("Node's C++", s.pct);
  else add("libuv, libc, V8's compiler and the rest", s.pct);
}
const us = perMessage === undefined ? null : Number(perMessage);
process.stdout.write(`| where | share of CPU |${us === null ? "" : " µs per message |"}\n| --- | ---: |${us === null ? "" : " ---: |"}\n`);
for (const [name, pct] of groups) {
  process.stdout.write(`| ${name} | ${pct.toFixed(1)} % |${us === null ? "" : ` ${((pct / 100) * us).toFixed(1)} |`}\n`);
}
