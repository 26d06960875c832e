import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The dashboard's static files (functions/dashboard/), served by the local HTTP adapter under `/dashboard/`
 * without authentication: the page holds no data, it asks the REST API with the key the user pastes.
 */

export const DASHBOARD_PATH = "/dashboard";

const TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

/** A file name the dashboard may serve: one segment, a known type; nothing else reaches the file system. */
const FILE = /^[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(html|js|css|svg)$/;

/**
 * Scripts and styles from the page's own origin only; requests to any origin, since the API base URL is
 * configurable (a static deployment calls the API on another host).
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The dashboard folder: next to this module (sources, tests) or, from the bundle in dist/, the repository's
 * functions/dashboard/. Null when neither exists.
 */
export function findDashboardDir(): string | null {
  for (const rel of ["dashboard/", "../functions/dashboard/"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  return null;
}

/** Answers the request when it is for the dashboard (returns true); otherwise leaves it alone. */
export function serveDashboard(req: IncomingMessage, res: ServerResponse, dir: string | null): boolean {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  if (path !== DASHBOARD_PATH && !path.startsWith(`${DASHBOARD_PATH}/`)) return false;
  const method = req.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") {
    text(res, 405, "method not allowed", { allow: "GET, HEAD" });
    return true;
  }
  if (path === DASHBOARD_PATH) {
    // Relative links (./dashboard.js) need the trailing slash.
    res.writeHead(308, { location: `${DASHBOARD_PATH}/${q < 0 ? "" : url.slice(q)}`, "content-length": 0 });
    res.end();
    return true;
  }
  const name = path === `${DASHBOARD_PATH}/` ? "index.html" : path.slice(DASHBOARD_PATH.length + 1);
  const m = FILE.exec(name);
  if (dir === null || m === null) {
    text(res, 404, dir === null ? "the dashboard files are not installed (functions/dashboard/)" : "not found");
    return true;
  }
  const type = m[1] as string;
  readFile(join(dir, name)).then(
    (body) => {
      const headers: Record<string, string | number> = {
        "content-type": TYPES[type] as string,
        "content-length": body.length,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      };
      if (type === "html") headers["content-security-policy"] = CSP;
      res.writeHead(200, headers);
      res.end(method === "HEAD" ? undefined : body);
    },
    () => text(res, 404, "not found"),
  );
  return true;
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}
