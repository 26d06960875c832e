// The floor under any Node.js broker (bench/socket-floor.ts): a server that accepts plain TCP sockets, reads them and
// keeps them, and does nothing else. On SIGUSR2 it runs two full GCs and prints its heap and RSS as one JSON line.
// Run with --expose-gc. argv[2]: the port.
import { createServer } from "node:net";

const sockets = new Set();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on("data", () => {});
  socket.on("error", () => {});
  socket.on("close", () => sockets.delete(socket));
});
server.listen({ port: Number(process.argv[2]), host: "127.0.0.1", backlog: 4096 }, () => process.stdout.write("listening\n"));
process.on("SIGUSR2", () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  process.stdout.write(`${JSON.stringify({ sockets: sockets.size, heap: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss })}\n`);
});
