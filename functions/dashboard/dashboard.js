/* global document, location, sessionStorage, URLSearchParams */
// The mqgate dashboard: polls the authenticated REST API (GET /v1/stats?top=N and GET /v1/nodes) and draws what
// it answers. No framework, no build step: this file is served as is, by `npm start` at /dashboard/ or from any
// static host. Query parameters: `api` (the API base URL), `interval` (seconds between polls, 1..60, default 5).
// Everything the API returns is written with textContent, never parsed as HTML.
// A key is bound to the origin of the API base URL it was entered for (docs/security.md, "Dashboard user"): it is
// stored per origin and only ever sent to that origin, so a link with `?api=` naming another origin asks for a key
// again instead of handing the stored one to whoever runs that origin.

const SVG = "http://www.w3.org/2000/svg";
/** sessionStorage item of the key for one origin: KEY_PREFIX + origin. */
const KEY_PREFIX = "mqgate.apiKey:";
/** Where earlier versions kept one key for any base URL: removed, that key is bound to no origin. */
const LEGACY_KEY_ITEM = "mqgate.apiKey";
const BASE_ITEM = "mqgate.apiBase";
const TOP = 10;
const HISTORY_MS = 10 * 60_000;
const CHART = { width: 1100, height: 260, left: 52, right: 16, top: 12, bottom: 26 };

const params = new URLSearchParams(location.search);
const intervalMs = Math.min(60, Math.max(1, Number(params.get("interval") ?? 5) || 5)) * 1000;

const $ = (id) => document.getElementById(id);

/** Counter samples ({t, received, sent}) of the last HISTORY_MS, oldest first. */
let samples = [];
let timer = null;

function apiBase() {
  return $("api-base").value.trim().replace(/\/+$/, "");
}

/** The origin of the API base URL, or null when it is not an http(s) URL. */
function apiOrigin() {
  try {
    const url = new URL(apiBase());
    return url.protocol === "http:" || url.protocol === "https:" ? url.origin : null;
  } catch {
    return null;
  }
}

/** The key entered for `origin`, or null. */
function keyFor(origin) {
  return origin === null ? null : sessionStorage.getItem(KEY_PREFIX + origin);
}

function forgetKeys() {
  for (let i = sessionStorage.length - 1; i >= 0; i--) {
    const item = sessionStorage.key(i);
    if (item !== null && (item.startsWith(KEY_PREFIX) || item === LEGACY_KEY_ITEM)) sessionStorage.removeItem(item);
  }
}

function status(text, kind = "ok") {
  const el = $("status");
  el.textContent = text;
  el.className = kind;
}

function show(id, value) {
  $(id).textContent = value === undefined || value === null ? "n/a" : String(value);
}

function formatRate(r) {
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** GET on the API with the key of `origin`; never sends it anywhere else (not even through a redirect). */
async function get(path, origin, key) {
  const url = new URL(`${apiBase()}${path}`);
  if (url.origin !== origin) throw new Error(`${url.origin} is not the origin the key was entered for`);
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${key}` },
    cache: "no-store",
    credentials: "omit",
    redirect: "error",
    referrerPolicy: "no-referrer",
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body?.detail ?? `${res.status} ${res.statusText}`);
  return body;
}

/** Messages per second between consecutive samples; a counter that went down (a restart) starts over. */
function rates() {
  const points = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const dt = (b.t - a.t) / 1000;
    if (dt <= 0 || b.received < a.received || b.sent < a.sent) continue;
    points.push({ t: b.t, in: (b.received - a.received) / dt, out: (b.sent - a.sent) / dt });
  }
  return points;
}

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** `-90s`, `-2.5m`: a time axis label, `seconds` before now. */
function ago(seconds) {
  if (seconds === 0) return "now";
  return seconds < 120 ? `-${Math.round(seconds)}s` : `-${+(seconds / 60).toFixed(1)}m`;
}

function drawChart(points, now) {
  const svg = $("chart");
  svg.replaceChildren();
  const { width, height, left, right, top, bottom } = CHART;
  const w = width - left - right;
  const h = height - top - bottom;
  // The time axis spans the samples there are: from ten polls up to HISTORY_MS.
  const first = samples[0]?.t ?? now;
  const span = Math.min(HISTORY_MS, Math.max(10 * intervalMs, now - first));
  const shown = points.filter((p) => now - p.t <= span);
  let max = 1;
  for (const p of shown) max = Math.max(max, p.in, p.out);
  max = niceCeil(max);
  for (let i = 0; i <= 4; i++) {
    const y = top + h - (h * i) / 4;
    svg.append(el("line", { x1: left, x2: left + w, y1: y, y2: y, class: "grid" }));
    svg.append(el("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, formatRate((max * i) / 4)));
  }
  for (let i = 0; i <= 5; i++) {
    const x = left + w - (w * i) / 5;
    svg.append(el("text", { x, y: height - 6, class: "axis", "text-anchor": i === 5 ? "start" : i === 0 ? "end" : "middle" }, ago((span * i) / 5 / 1000)));
  }
  const xy = (p, v) => `${(left + w - (w * (now - p.t)) / span).toFixed(1)},${(top + h - (h * v) / max).toFixed(1)}`;
  for (const series of ["in", "out"]) {
    if (shown.length === 0) continue;
    svg.append(el("polyline", { class: `series ${series}`, points: shown.map((p) => xy(p, p[series])).join(" ") }));
  }
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function fillTable(id, rows, cells) {
  const tbody = $(id).tBodies[0];
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = tbody.insertRow();
    const td = tr.insertCell();
    td.colSpan = $(id).tHead.rows[0].cells.length;
    td.className = "empty";
    td.textContent = "none";
    return;
  }
  for (const row of rows) {
    const tr = tbody.insertRow();
    for (const [cls, text] of cells(row, tr)) {
      const td = tr.insertCell();
      td.className = cls;
      td.textContent = text;
    }
  }
}

function render(stats, nodes) {
  show("nodes-count", nodes.items.length);
  $("nodes-list").replaceChildren(
    ...nodes.items.map((n) => {
      const li = document.createElement("li");
      li.dataset.nodeId = n.nodeId;
      // Each node's own figures from its last heartbeat (absent until its first).
      const s = n.stats;
      li.textContent =
        s === undefined
          ? `${n.nodeId} (${n.address})`
          : `${n.nodeId} (${n.address}) · ${s.connections} connections · ${formatRate(s.rates.received)}/s in · v${s.version}`;
      return li;
    }),
  );
  show("connections", stats.connections);
  show("sessions", stats.sessions);
  show("dropped", stats.messages?.dropped);
  const now = stats.sampledAt === undefined ? Date.now() : Date.parse(stats.sampledAt);
  if (stats.messages !== undefined) {
    samples.push({ t: now, received: stats.messages.received, sent: stats.messages.sent });
    samples = samples.filter((s) => now - s.t <= HISTORY_MS + intervalMs);
  }
  const points = rates();
  const last = points.at(-1);
  show("rate-in", last === undefined ? undefined : formatRate(last.in));
  show("rate-out", last === undefined ? undefined : formatRate(last.out));
  drawChart(points, now);
  $("topics-window").textContent = stats.topicWindowSeconds === undefined ? "" : `(last ${Math.round(stats.topicWindowSeconds)} s)`;
  fillTable("topics", stats.topTopics ?? [], (t, tr) => {
    tr.dataset.topic = t.topic;
    return [
      ["topic", t.topic],
      ["rate num", formatRate(t.rate)],
      ["messages num", String(t.messages)],
    ];
  });
  fillTable("queues", stats.largestQueues ?? [], (q, tr) => {
    tr.dataset.clientId = q.clientId;
    return [
      ["client", q.clientId],
      ["state", q.connected ? "connected" : "offline"],
      ["queued num", String(q.queued)],
      ["inflight num", String(q.inflight)],
    ];
  });
}

/** Asks for a key for the API base URL's origin (none stored for it). */
function askForKey() {
  const origin = apiOrigin();
  if (origin === null) status("The API base URL must be an http(s) URL.", "error");
  else status(`No API key for ${origin} in this tab: paste a key with the read scope for it. A key is only sent to the origin it was entered for.`, "error");
}

async function poll() {
  const origin = apiOrigin();
  const key = keyFor(origin);
  if (key === null) {
    stop();
    askForKey();
    return;
  }
  try {
    const [stats, nodes] = await Promise.all([get(`/v1/stats?top=${TOP}`, origin, key), get("/v1/nodes", origin, key)]);
    render(stats, nodes);
    status(`Updated ${new Date().toLocaleTimeString()} from ${apiBase()}, every ${intervalMs / 1000} s.`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      stop();
      if (err.status === 401) sessionStorage.removeItem(KEY_PREFIX + origin);
      status(`The API refused the key (${err.status}): ${err.message}`, "error");
      return;
    }
    status(`Cannot reach ${apiBase()}: ${err.message}. Retrying.`, "error");
  }
  timer = setTimeout(poll, intervalMs);
}

function stop() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
}

function start() {
  stop();
  samples = [];
  status(`Connecting to ${apiBase()} …`);
  void poll();
}

function init() {
  sessionStorage.removeItem(LEGACY_KEY_ITEM);
  const given = params.get("api");
  const origin = location.protocol === "http:" || location.protocol === "https:" ? location.origin : "";
  $("api-base").value = given ?? sessionStorage.getItem(BASE_ITEM) ?? origin;
  $("connect").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    const apiAt = apiOrigin();
    if (apiAt === null) {
      stop();
      askForKey();
      return;
    }
    // The key is bound to the origin shown when it was entered.
    if (key !== "") sessionStorage.setItem(KEY_PREFIX + apiAt, key);
    sessionStorage.setItem(BASE_ITEM, apiBase());
    if (keyFor(apiAt) === null) {
      stop();
      askForKey();
    } else start();
  });
  $("forget-button").addEventListener("click", () => {
    stop();
    forgetKeys();
    status("Keys forgotten.");
  });
  if (keyFor(apiOrigin()) !== null) start();
  else if (given !== null) askForKey();
}

init();
