// The floor under any Node.js broker (bench/socket-floor.ts): a server that accepts plain TCP sockets, reads them and
// keeps them, and does nothing else. It answers SIGUSR2 as broker/heap-probe.ts does (two full GCs, then
// `mqgate heap <used> total <heapTotal> external <bytes> rss <bytes>` on stderr), with `sockets <held>` added, so
// bench/probed-child.ts reads both alike. Run with --expose-gc. argv[2]: the port. argv[3] "handles": keep libuv's
// handles alone, reading into one shared buffer, with no net.Socket (what mqgate does since decision 053).
import { createServer } from "node:net";

const sockets = new Set();
const port = Number(process.argv[2]);
if (process.argv[3] === "handles") {
  const { TCP, constants } = process.binding("tcp_wrap");
  const { streamBaseState, kReadBytesOrError } = process.binding("stream_wrap");
  const shared = Buffer.allocUnsafeSlow(64 * 1024);
  function onread() {
    if (streamBaseState[kReadBytesOrError] >= 0) return;
    sockets.delete(this);
    this.close();
  }
  const server = new TCP(constants.SERVER);
  let err = server.bind("127.0.0.1", port);
  server.onconnection = (status, handle) => {
    if (status !== 0) return;
    handle.onread = onread;
    handle.useUserBuffer(shared);
    handle.readStart();
    sockets.add(handle);
  };
  if (err === 0) err = server.listen(4096);
  if (err !== 0) throw new Error(`listen failed: ${err}`);
  process.stderr.write("listening\n");
} else {
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => process.stderr.write("listening\n"));
}
process.on("SIGUSR2", () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  process.stderr.write(`mqgate heap ${m.heapUsed} total ${m.heapTotal} external ${m.external} rss ${m.rss} sockets ${sockets.size}\n`);
});
