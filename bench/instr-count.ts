/**
 * Instructions per message, counted by valgrind's callgrind (`node bench/instr-count.mjs`): a CPU figure for the
 * broker's user space that does not move with the machine. The fleet's CPU per message moves by 10–30 % from one
 * hour to the next on a shared machine, more than most hot-path changes save; callgrind counts the instructions the
 * broker executes, which repeat to within a fraction of a per cent for the same build and workload. Kernel time is
 * not counted: the figure says what the broker's own code costs, not what its system calls cost.
 *
 * The workload is the fleet's, one message at a time: `devices` devices each subscribed to their own command topic,
 * one backend subscribed to `fleet/+/up`, and each message a QoS 1 PUBLISH from the next device in turn, sent in one
 * write; the next is sent once the device has its PUBACK and the backend has the message and has acknowledged it.
 * Warm-up messages first (V8 compiles and optimizes then: after 3,000, Node 24's optimizing compiler still took 46 %
 * of what was counted, after 20,000 0.2 %), then the counters are zeroed and `messages` more are counted. The broker runs with V8's `--single-threaded` (no compiler or GC threads), so what is counted is the
 * broker's one thread.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { generate, type Packet, parser as createParser } from "mqtt-packet";
import { freePort } from "../scripts/lib/ports.js";
import { brokerNodeFlags, withBrokerEnv } from "../broker/node-flags.js";
import { cleanEnv, mosquittoConfig, MOSQUITTO_PATH, mqgateBenchEnv } from "./targets.js";
import { parsePerfMap, selfCostByFunction, topLines } from "./callgrind-symbols.js";

export interface InstrCountOptions {
  /** "mosquitto", or the path of an mqgate build's broker.mjs. */
  target: string;
  devices: number;
  warmMessages: number;
  messages: number;
  /** Node flags for an mqgate target, after `--single-threaded` and the broker's own (broker/node-flags.ts). */
  nodeFlags: string[];
  /** Where to keep callgrind's dump of the counted messages (for `callgrind_annotate`), or null. */
  keep: string | null;
  /**
   * List this many functions with the most instructions of their own, per message (0: none). An mqgate target then
   * runs with `--perf-basic-prof`, which names V8's compiled JavaScript (bench/callgrind-symbols.ts).
   */
  top?: number;
}

export interface InstrCountResult {
  target: string;
  devices: number;
  messages: number;
  instructions: number;
  instructionsPerMessage: number;
  /** With `top`: "instructions per message  function" lines, costliest first. */
  top?: string[];
}

/** One MQTT client on a raw socket: sends packets, and waits for the next one of a kind. */
class Client {
  private readonly waiting: { cmd: string; resolve: (p: Packet) => void }[] = [];
  private readonly early: Packet[] = [];

  private constructor(readonly socket: Socket) {
    const parser = createParser({ protocolVersion: 4 });
    parser.on("packet", (p: Packet) => {
      const at = this.waiting.findIndex((w) => w.cmd === p.cmd);
      if (at < 0) this.early.push(p);
      else this.waiting.splice(at, 1)[0]?.resolve(p);
    });
    socket.on("data", (d) => parser.parse(d));
    socket.on("error", () => {});
  }

  static async open(port: number, clientId: string): Promise<Client> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ port, host: "127.0.0.1", noDelay: true }, () => resolve(s));
      s.once("error", reject);
    });
    const c = new Client(socket);
    c.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, keepalive: 0 });
    await c.next("connack");
    return c;
  }

  send(p: Packet): void {
    this.socket.write(generate(p));
  }

  next(cmd: string): Promise<Packet> {
    const at = this.early.findIndex((p) => p.cmd === cmd);
    if (at >= 0) return Promise.resolve(this.early.splice(at, 1)[0] as Packet);
    return new Promise((resolve) => this.waiting.push({ cmd, resolve }));
  }
}

async function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the broker exited (${child.exitCode}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: "127.0.0.1" }, () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the broker did not listen on ${port} within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The last dump callgrind wrote into `dir`: its file, and its total (the `totals:` or `summary:` line). */
function lastDump(dir: string): { file: string; total: number } {
  const dumps = readdirSync(dir).filter((f) => f.startsWith("cg.out"));
  const last = dumps.sort().at(-1);
  if (last === undefined) throw new Error("callgrind wrote no dump");
  const file = join(dir, last);
  const m = /^(?:totals|summary): (\d+)/m.exec(readFileSync(file, "utf8"));
  if (m === null) throw new Error(`no total in ${last}`);
  return { file, total: Number(m[1]) };
}

async function roundTrips(devices: Client[], backend: Client, count: number, firstId: number): Promise<void> {
  const payload = Buffer.alloc(16, 7);
  for (let i = 0; i < count; i++) {
    const d = i % devices.length;
    const device = devices[d] as Client;
    const messageId = ((firstId + i) % 65535) + 1;
    device.send({ cmd: "publish", topic: `fleet/${d}/up`, payload, qos: 1, messageId, retain: false, dup: false });
    const [, delivered] = await Promise.all([device.next("puback"), backend.next("publish")]);
    backend.send({ cmd: "puback", messageId: (delivered as { messageId: number }).messageId });
  }
}

export async function countInstructions(opts: InstrCountOptions): Promise<InstrCountResult> {
  const dir = mkdtempSync(join(tmpdir(), "mqgate-instr-"));
  const port = await freePort();
  const top = opts.top ?? 0;
  const valgrind = ["--tool=callgrind", "--smc-check=all-non-file", `--callgrind-out-file=${join(dir, "cg.out")}`];
  let command: string[];
  let env: NodeJS.ProcessEnv;
  if (opts.target === "mosquitto") {
    env = cleanEnv({});
    const conf = join(dir, "mosquitto.conf");
    // Mosquitto started as root switches to its own user, and callgrind_control then cannot reach it: it stays ours.
    writeFileSync(conf, `${mosquittoConfig(port)}user ${userInfo().username}\n`);
    command = [MOSQUITTO_PATH, "-c", conf];
  } else {
    env = withBrokerEnv(cleanEnv({ ...mqgateBenchEnv(port), MQGATE_METRICS_PORT: "off" }));
    // The broker's own flags (broker/node-flags.ts), as bench/targets.ts starts it, then the run's.
    const symbols = top > 0 ? ["--perf-basic-prof"] : [];
    command = [process.execPath, "--single-threaded", ...brokerNodeFlags(env), ...symbols, ...opts.nodeFlags, opts.target];
  }
  const child = spawn("valgrind", [...valgrind, ...command], { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  const clients: Client[] = [];
  try {
    await waitForPort(port, child, 300_000);
    const backend = await Client.open(port, "fleet-backend");
    clients.push(backend);
    backend.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "fleet/+/up", qos: 1 }] });
    await backend.next("suback");
    const devices: Client[] = [];
    for (let d = 0; d < opts.devices; d++) {
      const c = await Client.open(port, `fleet-${d}`);
      clients.push(c);
      devices.push(c);
      c.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: `fleet/${d}/cmd`, qos: 1 }] });
      await c.next("suback");
    }
    await roundTrips(devices, backend, opts.warmMessages, 0);
    execFileSync("callgrind_control", ["--zero", String(child.pid)], { stdio: "ignore" });
    await roundTrips(devices, backend, opts.messages, opts.warmMessages);
    // The last PUBACK from the backend is read before the dump: one more round trip on a device's own topic would
    // count more than that; a short wait suffices at this rate.
    await new Promise((r) => setTimeout(r, 300));
    execFileSync("callgrind_control", ["--dump", String(child.pid)], { stdio: "ignore" });
    const dump = lastDump(dir);
    if (opts.keep !== null) copyFileSync(dump.file, opts.keep);
    const instructions = dump.total;
    const result: InstrCountResult = {
      target: opts.target,
      devices: opts.devices,
      messages: opts.messages,
      instructions,
      instructionsPerMessage: Math.round(instructions / opts.messages),
    };
    if (top > 0) {
      const map = existsSync(perfMap(child)) ? parsePerfMap(readFileSync(perfMap(child), "utf8")) : [];
      result.top = topLines(selfCostByFunction(readFileSync(dump.file, "utf8"), map), opts.messages, top);
    }
    return result;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${err}`);
  } finally {
    for (const c of clients) c.socket.destroy();
    child.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    rmSync(dir, { recursive: true, force: true });
    if (top > 0) rmSync(perfMap(child), { force: true });
  }
}

/** Where V8 (`--perf-basic-prof`) writes the names of the code it generated for `child`. */
function perfMap(child: ChildProcess): string {
  return `/tmp/perf-${child.pid}.map`;
}

function arg(argv: string[], name: string, fallback: number): number {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
}

/**
 * `node bench/instr-count.mjs [--target mosquitto|<broker.mjs>] [--devices 50] [--warm 20000] [--messages 10000]
 * [--node-flag F]... [--keep FILE] [--top N]`: prints the count as JSON. The mqgate target defaults to this
 * checkout's dist/broker.mjs. `--keep`: callgrind's dump of the counted messages, for `callgrind_annotate FILE`.
 * `--top N`: the N functions with the most instructions of their own, per message, JavaScript named.
 *
 * 10,000 counted messages by default: with 2,000, one build counted 26,752, 27,997 and 28,249 instructions per
 * message in three runs.
 */
export async function main(argv: string[], root: string): Promise<number> {
  const t = argv.indexOf("--target");
  const target = t >= 0 ? (argv[t + 1] as string) : join(root, "dist/broker.mjs");
  const nodeFlags: string[] = [];
  for (let i = 0; i < argv.length; i++) if (argv[i] === "--node-flag") nodeFlags.push(argv[i + 1] as string);
  const result = await countInstructions({
    target,
    devices: arg(argv, "--devices", 50),
    warmMessages: arg(argv, "--warm", 20000),
    messages: arg(argv, "--messages", 10000),
    nodeFlags,
    keep: argv.includes("--keep") ? (argv[argv.indexOf("--keep") + 1] as string) : null,
    top: arg(argv, "--top", 0),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}
