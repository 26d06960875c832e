import { afterEach, describe, expect, it } from "vitest";
import { NodeFaults } from "./faults.js";
import { Prng } from "./prng.js";
import { SqsModel } from "./sqs-model.js";
import { VirtualTime } from "./virtual-time.js";

/** The simulation's models, checked against the SQS and Node behaviour they stand for (docs/decisions/023). */

let time: VirtualTime | null = null;
afterEach(() => {
  time?.uninstall();
  time = null;
});

function install(): VirtualTime {
  const t = new VirtualTime(() => 0.5);
  t.install();
  time = t;
  return t;
}

describe("virtual time", () => {
  it("runs timers in time order, intervals repeatedly, refresh() re-arms, and Date.now follows", async () => {
    const t = install();
    const seen: string[] = [];
    const start = Date.now();
    setTimeout(() => seen.push(`b@${Date.now() - start}`), 20);
    const a = setTimeout(() => seen.push("a"), 10);
    const iv = setInterval(() => seen.push("tick"), 7);
    setImmediate(() => seen.push("now"));
    await t.runFor(5);
    a.refresh(); // due at 15 now
    await t.runFor(10);
    clearInterval(iv);
    await t.runFor(100);
    expect(seen).toEqual(["now", "tick", "tick", "a", "b@20"]);
    expect(t.pending).toBe(0);
  });

  it("waits for a promise that needs virtual time", async () => {
    const t = install();
    const start = Date.now();
    const v = await t.wait(new Promise<number>((resolve) => setTimeout(() => resolve(42), 30_000)));
    expect(v).toBe(42);
    expect(Date.now() - start).toBe(30_000);
  });
});

describe("SQS FIFO model", () => {
  async function setup(): Promise<{ t: VirtualTime; sqs: ReturnType<SqsModel["clientFor"]>; url: string }> {
    const t = install();
    const model = new SqsModel(new Prng(1), { errorRate: 0, approximateCountsLie: false });
    const sqs = model.clientFor(new NodeFaults(new Prng(2), {}));
    const created = (await t.wait(sqs.send(cmd("CreateQueueCommand", { QueueName: "q.fifo", Attributes: { VisibilityTimeout: "30" } })))) as { QueueUrl: string };
    return { t, sqs, url: created.QueueUrl };
  }
  function cmd(name: string, input: unknown): { input: unknown } {
    return new (class {
      input = input;
      static {
        Object.defineProperty(this, "name", { value: name });
      }
    })();
  }
  function send(url: string, items: [group: string, id: string][]): { input: unknown } {
    return cmd("SendMessageBatchCommand", { QueueUrl: url, Entries: items.map(([g, id], i) => ({ Id: String(i), MessageBody: id, MessageGroupId: g, MessageDeduplicationId: id })) });
  }
  type Received = { Messages: { Body: string; ReceiptHandle: string; Attributes: { ApproximateReceiveCount: string } }[] };
  const receive = (url: string, wait = 0): { input: unknown } => cmd("ReceiveMessageCommand", { QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: wait });

  it("hands out at most 10, in group order, holds a group while one of it is in flight, and deduplicates", async () => {
    const { t, sqs, url } = await setup();
    await t.wait(sqs.send(send(url, Array.from({ length: 8 }, (_, i) => ["a", `a${i}`] as [string, string]))));
    await t.wait(sqs.send(send(url, [["b", "b0"], ["b", "b1"], ["b", "b2"], ["a", "a0"]]))); // a0 again: a duplicate
    const first = (await t.wait(sqs.send(receive(url)))) as Received;
    expect(first.Messages.map((m) => m.Body)).toEqual(["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "b0", "b1"]);
    // b2 waits behind b0/b1 in flight; nothing else is visible.
    expect(((await t.wait(sqs.send(receive(url)))) as Received).Messages).toEqual([]);
    await t.wait(sqs.send(cmd("DeleteMessageBatchCommand", { QueueUrl: url, Entries: first.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) })));
    expect(((await t.wait(sqs.send(receive(url)))) as Received).Messages.map((m) => m.Body)).toEqual(["b2"]);
  });

  it("redelivers what was not deleted within the visibility timeout; the old receipt no longer deletes it", async () => {
    const { t, sqs, url } = await setup();
    await t.wait(sqs.send(send(url, [["a", "x"]])));
    const first = (await t.wait(sqs.send(receive(url)))) as Received;
    await t.runFor(30_000);
    const again = (await t.wait(sqs.send(receive(url, 20)))) as Received;
    expect(again.Messages.map((m) => [m.Body, m.Attributes.ApproximateReceiveCount])).toEqual([["x", "2"]]);
    const del = (await t.wait(sqs.send(cmd("DeleteMessageBatchCommand", { QueueUrl: url, Entries: [{ Id: "0", ReceiptHandle: first.Messages[0]!.ReceiptHandle }] })))) as { Failed: unknown[] };
    expect(del.Failed).toHaveLength(1);
  });

  it("a long poll returns when a message arrives", async () => {
    const { t, sqs, url } = await setup();
    const start = Date.now();
    const polling = sqs.send(receive(url, 20));
    setTimeout(() => void sqs.send(send(url, [["a", "late"]])), 3_000);
    const got = (await t.wait(polling)) as Received;
    expect(got.Messages.map((m) => m.Body)).toEqual(["late"]);
    expect(Date.now() - start).toBeLessThan(4_000);
  });

  it("a deleted queue accepts sends for 60 s and drops them, then refuses them", async () => {
    const { t, sqs, url } = await setup();
    await t.wait(sqs.send(cmd("DeleteQueueCommand", { QueueUrl: url })));
    const accepted = (await t.wait(sqs.send(send(url, [["a", "lost"]])))) as { Successful: unknown[] };
    expect(accepted.Successful).toHaveLength(1);
    await expect(t.wait(sqs.send(receive(url)))).rejects.toThrow(/does not exist/);
    await t.runFor(60_000);
    await expect(t.wait(sqs.send(send(url, [["a", "refused"]])))).rejects.toThrow(/does not exist/);
    await expect(t.wait(sqs.send(cmd("CreateQueueCommand", { QueueName: "q.fifo" })))).resolves.toMatchObject({ QueueUrl: url });
  });
});
