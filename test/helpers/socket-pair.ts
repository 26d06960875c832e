import { connect, createServer, type Server, type ServerOpts, type Socket } from "node:net";

/**
 * A server socket and the client socket connected to it, over loopback on a free port. `cleanups` gets what closes
 * both and the server (the caller runs it after the test).
 */
export async function socketPair(cleanups: (() => void | Promise<void>)[], options: ServerOpts = {}): Promise<{ server: Socket; client: Socket }> {
  let accepted: (s: Socket) => void = () => {};
  const got = new Promise<Socket>((r) => (accepted = r));
  const srv: Server = createServer(options, (s) => accepted(s));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  const client = connect({ port, host: "127.0.0.1" });
  const server = await got;
  cleanups.push(() => {
    client.destroy();
    server.destroy();
    return new Promise<void>((r) => srv.close(() => r()));
  });
  return { server, client };
}

/** Collects what `socket` receives: the function returns it all so far. */
export function received(socket: Socket): () => Buffer {
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks);
}

/** `n` bytes counting up from `seed` (mod 251), so a byte out of place shows. */
export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (seed + i) % 251;
  return b;
}
