#!/usr/bin/env node
// What one more device keeps on the broker's heap (issue 17): `node bench/heap-diff.mjs BEFORE AFTER [N] [--top K] [--shapes]`
// reads two V8 heap snapshots (bench/conn-memory.mjs --snapshots DIR writes them, oldest first) and lists the objects
// in AFTER that BEFORE did not have, grouped by V8's node type and constructor or string name, by self size. With N
// (the devices connected between the two), sizes and counts are given per device. `--shapes` tells plain
// objects apart by their property names and arrays by what holds them. Counts bytes, not time.
import { readFileSync } from "node:fs";

/**
 * Object ids and, per id, [group, self size], of one snapshot. With `shapes`, plain objects ("Object") are told apart
 * by their property names, and arrays by what holds them (the holder's group and the edge's name).
 */
function read(path, shapes) {
  const snap = JSON.parse(readFileSync(path, "utf8"));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const edgeFields = meta.edge_fields;
  const edgeTypes = meta.edge_types[0];
  const width = fields.length;
  const edgeWidth = edgeFields.length;
  const at = (name) => fields.indexOf(name);
  const [iType, iName, iId, iSize, iEdges] = [at("type"), at("name"), at("id"), at("self_size"), at("edge_count")];
  const [eType, eName, eTo] = ["type", "name_or_index", "to_node"].map((f) => edgeFields.indexOf(f));
  const nodes = snap.nodes;
  const edges = snap.edges;
  const strings = snap.strings;
  const groupOf = new Array(nodes.length / width);
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    // Strings are grouped as such: their text is the device's own (ids, filters), not a kind.
    const name = type.includes("string") ? "" : strings[nodes[i + iName]];
    groupOf[i / width] = `${type} ${name}`.trim();
  }
  if (shapes) {
    const named = new Array(nodes.length / width);
    for (let i = 0, e = 0; i < nodes.length; i += width) {
      const from = i / width;
      const props = [];
      for (let k = 0; k < nodes[i + iEdges]; k++, e += edgeWidth) {
        const kind = edgeTypes[edges[e + eType]];
        const to = edges[e + eTo] / width;
        if (kind === "property") props.push(strings[edges[e + eName]]);
        if ((kind === "property" || kind === "internal") && types[nodes[to * width + iType]] === "array" && named[to] === undefined) {
          named[to] = `array held by ${groupOf[from]}.${strings[edges[e + eName]] ?? ""}`;
        }
      }
      if (groupOf[from] === "object Object") named[from] = `object {${props.slice(0, 12).join(",")}}`;
    }
    // A Map's or Set's table is told apart by what holds the collection.
    const holder = new Array(nodes.length / width);
    for (let i = 0, e = 0; i < nodes.length; i += width) {
      for (let k = 0; k < nodes[i + iEdges]; k++, e += edgeWidth) {
        const kind = edgeTypes[edges[e + eType]];
        const to = edges[e + eTo] / width;
        if (kind === "property" && holder[to] === undefined) holder[to] = `${groupOf[i / width]}.${strings[edges[e + eName]]}`;
      }
    }
    for (let i = 0, e = 0; i < nodes.length; i += width) {
      const from = i / width;
      const kind0 = groupOf[from];
      for (let k = 0; k < nodes[i + iEdges]; k++, e += edgeWidth) {
        if (kind0 !== "object Map" && kind0 !== "object Set") continue;
        // Element and hidden edges are named by an index, not a string.
        if (edgeTypes[edges[e + eType]] !== "internal") continue;
        const to = edges[e + eTo] / width;
        if (strings[edges[e + eName]] === "table") named[to] = `table of ${kind0.slice(7)} ${holder[from] ?? "?"}`;
      }
    }
    for (let i = 0, e = 0; i < nodes.length; i += width) {
      for (let k = 0; k < nodes[i + iEdges]; k++, e += edgeWidth) {
        const to = edges[e + eTo] / width;
        const g = groupOf[to];
        if (named[to] !== undefined) continue;
        if (g === "object Array" && holder[to] !== undefined) named[to] = `Array at ${holder[to]}`;
        else if (g === "hidden system / PropertyArray") named[to] = `out-of-object properties of ${named[i / width] ?? groupOf[i / width]}`;
      }
    }
    for (let n = 0; n < named.length; n++) if (named[n] !== undefined) groupOf[n] = named[n];
  }
  const byId = new Map();
  for (let i = 0; i < nodes.length; i += width) byId.set(nodes[i + iId], [groupOf[i / width], nodes[i + iSize]]);
  return byId;
}

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt >= 0 ? Number(args[topAt + 1]) : 40;
const shapes = args.includes("--shapes");
const [beforePath, afterPath, perText] = args.filter((a, i) => !a.startsWith("--") && i !== topAt + 1);
if (beforePath === undefined || afterPath === undefined) {
  console.error("usage: node bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [devices] [--top K] [--shapes]");
  process.exit(2);
}
const per = perText === undefined ? 1 : Number(perText);
const before = read(beforePath, false);
const after = read(afterPath, shapes);
const groups = new Map();
let total = 0;
for (const [id, [group, size]] of after) {
  if (before.has(id)) continue;
  const g = groups.get(group) ?? { count: 0, bytes: 0 };
  g.count++;
  g.bytes += size;
  groups.set(group, g);
  total += size;
}
const rows = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top);
const fmt = (n) => (per === 1 ? String(n) : (n / per).toFixed(2));
console.log(`new objects: ${fmt(total)} bytes${per === 1 ? "" : " per device"}`);
console.log(`${"bytes".padStart(10)} ${"count".padStart(8)}  type and name`);
for (const [group, g] of rows) console.log(`${fmt(g.bytes).padStart(10)} ${fmt(g.count).padStart(8)}  ${group}`);
