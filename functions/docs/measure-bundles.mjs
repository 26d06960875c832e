#!/usr/bin/env node
// Measures each Lambda bundle in dist/ (run `npm run build` first): its size, and its cold initialisation time,
// loading it in a fresh Node process (median of 7 runs): the time to import the module (what Lambda's init
// phase pays), and for the API the time to answer a first request (GET /v1/openapi.json, which needs no backend).
//
//   npm run build && node functions/docs/measure-bundles.mjs
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const root = new URL("../..", import.meta.url).pathname;
const bundles = [
  { name: "api", entry: "functions/api.ts", request: true },
  { name: "events-consumer", entry: "functions/events-consumer.ts", request: false },
];

const probe = (file, request) => `
const t0 = performance.now();
const m = await import(${JSON.stringify(file)});
const t1 = performance.now();
let t2 = t1;
if (${request}) {
  const r = await m.handler({ version: "2.0", routeKey: "$default", rawPath: "/v1/openapi.json", rawQueryString: "", headers: {}, requestContext: { http: { method: "GET" }, requestId: "measure" }, isBase64Encoded: false });
  if (r.statusCode !== 200) throw new Error("unexpected status " + r.statusCode);
  t2 = performance.now();
}
const nl = String.fromCharCode(10);
process.stdout.write(nl + "MEASURE " + JSON.stringify({ init: t1 - t0, first: t2 - t1 }) + nl);
`;

const out = (line) => process.stdout.write(`${line}\n`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MQGATE_")));

out("| bundle | entry | size | gzip | cold init (import) | first request |");
out("| --- | --- | --- | --- | --- | --- |");
for (const b of bundles) {
  const file = `${root}dist/${b.name}.mjs`;
  if (!existsSync(file)) continue;
  const bytes = readFileSync(file);
  // The handler writes its EMF metrics line on stdout too: the figures are the line marked MEASURE.
  const measure = () => {
    const text = execFileSync(process.execPath, ["--input-type=module", "-e", probe(file, b.request)], { env, cwd: root }).toString();
    const line = text.split("\n").find((l) => l.startsWith("MEASURE "));
    if (line === undefined) throw new Error(`no measurement in the output of ${b.name}: ${text}`);
    return JSON.parse(line.slice("MEASURE ".length));
  };
  const runs = Array.from({ length: 7 }, measure);
  const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
  const ms = (n) => `${n.toFixed(0)} ms`;
  out(`| \`dist/${b.name}.mjs\` | \`${b.entry}\` | ${kb(bytes.length)} | ${kb(gzipSync(bytes).length)} | ${ms(median(runs.map((r) => r.init)))} | ${b.request ? ms(median(runs.map((r) => r.first))) : "n/a"} |`);
}
out(`\nNode ${process.version}, ${process.platform}/${process.arch}.`);
