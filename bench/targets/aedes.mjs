// Aedes as a benchmark target: the broker with its defaults (in-memory persistence and emitter), one TCP
// listener on 127.0.0.1:$BENCH_PORT with TCP_NODELAY (like mqgate). Started and stopped by bench/runner.ts.
import { createServer } from "node:net";
import { Aedes } from "aedes";

const port = Number(process.env.BENCH_PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error("aedes target: BENCH_PORT must be a port number");
  process.exit(2);
}

const aedes = await Aedes.createBroker();
const server = createServer({ noDelay: true }, aedes.handle);
server.on("error", (err) => {
  console.error(`aedes target: ${err.message}`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => console.error(`aedes ready on 127.0.0.1:${port}`));

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 5000).unref();
  server.close();
  aedes.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
