// The floor under any Node.js broker (bench/socket-floor.ts): a server that accepts plain TCP sockets, reads them and
// keeps them, and does nothing else. It answers SIGUSR2 as broker/heap-probe.ts does (two full GCs, then
// `mqgate heap <used> total <heapTotal> external <bytes> rss <bytes>` on stderr), with `sockets <held>` added, so
// bench/probed-child.ts reads both alike. Run with --expose-gc. argv[2]: the port.
import { createServer } from "node:net";

const sockets = new Set();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on("data", () => {});
  socket.on("error", () => {});
  socket.on("close", () => sockets.delete(socket));
});
server.listen({ port: Number(process.argv[2]), host: "127.0.0.1", backlog: 4096 }, () => process.stderr.write("listening\n"));
process.on("SIGUSR2", () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  process.stderr.write(`mqgate heap ${m.heapUsed} total ${m.heapTotal} external ${m.external} rss ${m.rss} sockets ${sockets.size}\n`);
});
