import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeNodeMessage } from "../../core/communicator/schema.js";
import { SqsReceiver } from "../../core/communicator/sqs-receiver.js";
import type { NodeMessage } from "../../core/communicator/types.js";

/**
 * The receiver's deletes (core/communicator/sqs-receiver.ts), against a scripted SQS client: a handled message
 * whose delete failed would stay in flight for the visibility timeout and hold back its FIFO group behind it
 * (decision 023, finding S3), so a failed DeleteMessageBatch is retried at once.
 */

const kick: NodeMessage = { type: "kick", id: "n2:1", clientId: "c1", reason: "kicked", discardSession: false };

/** One queued message; DeleteMessageBatch answers with `deletes` in turn (an Error is thrown). */
function scriptedClient(deletes: (Error | { Failed?: { Id: string; SenderFault: boolean; Code: string }[] })[], visibility: Error[] = []) {
  let queued: Message[] = [{ MessageId: "m1", ReceiptHandle: "r1", Body: encodeNodeMessage(kick), Attributes: { ApproximateReceiveCount: "1" } }];
  const calls: string[] = [];
  const client = {
    send: (cmd: { constructor: { name: string } }) => {
      const name = cmd.constructor.name;
      calls.push(name);
      if (name === "ReceiveMessageCommand") {
        const out = queued;
        queued = [];
        // An empty queue answers a long poll later (a receive loop must not spin).
        return out.length > 0 ? Promise.resolve({ Messages: out }) : new Promise((resolve) => setTimeout(() => resolve({ Messages: [] }), 5));
      }
      if (name === "DeleteMessageBatchCommand") {
        const next = deletes.shift() ?? {};
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      }
      if (name === "ChangeMessageVisibilityBatchCommand") {
        const next = visibility.shift();
        return next !== undefined ? Promise.reject(next) : Promise.resolve({});
      }
      return Promise.resolve({});
    },
  };
  return { client: client as unknown as SQSClient, calls };
}

function receiver(client: SQSClient, errors: Error[]): SqsReceiver {
  return new SqsReceiver(client, "n1", "sim://q", {
    waitTimeSeconds: 0,
    visibilityTimeoutSeconds: 30,
    retryDelaySeconds: 1,
    maxReceiveCount: 5,
    dedupWindow: 100,
    onError: (err) => errors.push(err),
  });
}

describe("SqsReceiver deletes", () => {
  it("retries a DeleteMessageBatch that failed, so the handled message does not wait out the visibility timeout", async () => {
    const { client, calls } = scriptedClient([new Error("InternalError"), new Error("InternalError"), {}]);
    const errors: Error[] = [];
    const handled: string[] = [];
    const result = await receiver(client, errors).drain(async (messages) => void handled.push(...messages.map((m) => m.id)));
    expect(result.drained).toBe(1);
    expect(handled).toEqual(["n2:1"]);
    expect(calls.filter((c) => c === "DeleteMessageBatchCommand")).toHaveLength(3);
    expect(errors).toHaveLength(2); // each failed call is reported
  });

  describe("while SQS is out of reach (decision 036)", () => {
    afterEach(() => void vi.useRealTimers());

    it("keeps retrying until SQS answers again, within the visibility timeout", async () => {
      vi.useFakeTimers();
      // Cut off for about 10 s: the first 14 calls fail (50 ms doubling, then once a second).
      const { client, calls } = scriptedClient([...Array.from({ length: 14 }, () => new Error("NetworkingError")), {}]);
      const errors: Error[] = [];
      const drained = receiver(client, errors).drain(async () => {});
      await vi.advanceTimersByTimeAsync(15_000);
      expect((await drained).drained).toBe(1);
      expect(calls.filter((c) => c === "DeleteMessageBatchCommand")).toHaveLength(15);
      expect(errors).toHaveLength(14);
    });

    it("gives up once the visibility timeout ended (the receipt handle is stale by then)", async () => {
      vi.useFakeTimers();
      const { client, calls } = scriptedClient(Array.from({ length: 100 }, () => new Error("NetworkingError")));
      const drained = receiver(client, []).drain(async () => {});
      await vi.advanceTimersByTimeAsync(60_000);
      await drained;
      const deletes = calls.filter((c) => c === "DeleteMessageBatchCommand").length;
      // 50, 100, 200, 400, 800 ms, then every second until 30 s after the receive.
      expect(deletes).toBeGreaterThan(25);
      expect(deletes).toBeLessThan(35);
    });
  });

  it("hands back a batch whose drain stopped once SQS answers again, not at the end of the visibility timeout", async () => {
    vi.useFakeTimers();
    try {
      // The drainer is cut off (its store call fails, and so does SQS for about 5 s).
      const { client, calls } = scriptedClient([], Array.from({ length: 9 }, () => new Error("NetworkingError")));
      const drained = receiver(client, []).drain(() => Promise.reject(new Error("store unreachable")));
      const outcome = drained.then(() => "drained", (err: Error) => err.message);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(await outcome).toBe("store unreachable");
      expect(calls.filter((c) => c === "ChangeMessageVisibilityBatchCommand")).toHaveLength(10);
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not retry an entry SQS refused as the sender's fault (a stale receipt handle)", async () => {
    const { client, calls } = scriptedClient([{ Failed: [{ Id: "0", SenderFault: true, Code: "ReceiptHandleIsInvalid" }] }]);
    const errors: Error[] = [];
    await receiver(client, errors).drain(async () => {});
    expect(calls.filter((c) => c === "DeleteMessageBatchCommand")).toHaveLength(1);
    expect(errors).toHaveLength(1);
  });
});

describe("SqsReceiver.handBack (the node lost its lease)", () => {
  it("makes the batches being handled visible again at once, does not delete them when their handler ends, and stop() does not wait for them", async () => {
    const { client, calls } = scriptedClient([]);
    const errors: Error[] = [];
    const r = receiver(client, errors);
    let finish: () => void = () => undefined;
    const handling = new Promise<void>((resolve) => (finish = resolve));
    const started = new Promise<void>((resolve) => r.start(() => (resolve(), handling)));
    await started; // the one message is being handled, its handler waiting (for a store this node cannot reach)
    r.handBack();
    await vi.waitFor(() => expect(calls).toContain("ChangeMessageVisibilityBatchCommand"));
    // stop() returns although the handler has not finished.
    await r.stop();
    finish();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).not.toContain("DeleteMessageBatchCommand");
    expect(errors).toEqual([]);
  });

  it("changes nothing for batches that finish before it", async () => {
    const { client, calls } = scriptedClient([{}]);
    const r = receiver(client, []);
    const handled = new Promise<void>((resolve) => r.start(async () => resolve()));
    await handled;
    await vi.waitFor(() => expect(calls).toContain("DeleteMessageBatchCommand"));
    r.handBack();
    await r.stop();
    expect(calls).not.toContain("ChangeMessageVisibilityBatchCommand");
  });
  /** A queue of `n` messages, each in its own group, received one per call; deletes that never answer when `hangDeletes`. */
  function manyClient(n: number, hangDeletes = false, extra: Message[] = []) {
    let queued: Message[] = [
      ...extra,
      ...Array.from({ length: n }, (_, i) => ({ MessageId: `m${i}`, ReceiptHandle: `r${i}`, Body: encodeNodeMessage({ ...kick, id: `n2:${i + 10}` }), Attributes: { ApproximateReceiveCount: "1" } })),
    ];
    const calls: string[] = [];
    const client = {
      send: (cmd: { constructor: { name: string }; input: { Entries?: { ReceiptHandle: string }[] } }) => {
        const name = cmd.constructor.name;
        calls.push(`${name} ${(cmd.input.Entries ?? []).map((e) => e.ReceiptHandle).join(",")}`);
        if (name === "ReceiveMessageCommand") {
          const out = queued.slice(0, 1);
          queued = queued.slice(1);
          return out.length > 0 ? Promise.resolve({ Messages: out }) : new Promise((resolve) => setTimeout(() => resolve({ Messages: [] }), 5));
        }
        if (name === "DeleteMessageBatchCommand" && hangDeletes) return new Promise(() => undefined);
        return Promise.resolve({});
      },
    };
    return { client: client as unknown as SQSClient, calls };
  }

  it("with four batches waiting (the most it handles at once), a hand-back lets stop() return and given-back batches no longer count", async () => {
    const { client, calls } = manyClient(6);
    const r = receiver(client, []);
    const started: string[] = [];
    r.start((messages) => {
      started.push(...messages.map((m) => m.id));
      return new Promise<void>(() => undefined); // the store is out of reach
    });
    await vi.waitFor(() => expect(started).toHaveLength(4));
    r.handBack();
    // Room again: the next two are received and handled (and wait too).
    await vi.waitFor(() => expect(started).toHaveLength(6));
    expect(calls.filter((c) => c.startsWith("ChangeMessageVisibilityBatchCommand"))).toHaveLength(4);
    r.handBack();
    await r.stop(); // returns: nothing it waits for is left
    expect(calls.filter((c) => c.startsWith("ChangeMessageVisibilityBatchCommand"))).toHaveLength(6);
  });

  it("deletes a message it does not handle at once, not behind a waiting handler", async () => {
    const handledBefore: Message = { MessageId: "d", ReceiptHandle: "rd", Body: "not json", Attributes: { ApproximateReceiveCount: "1" } };
    const { client, calls } = manyClient(0, false, [handledBefore]);
    const r = receiver(client, []);
    r.start(() => new Promise<void>(() => undefined));
    await vi.waitFor(() => expect(calls).toContain("DeleteMessageBatchCommand rd"));
    r.handBack();
    await r.stop();
  });

  it("gives back nothing whose handler ended (its delete under way)", async () => {
    const { client, calls } = manyClient(1, true);
    const r = receiver(client, []);
    const handled = new Promise<void>((resolve) => r.start(async () => resolve()));
    await handled;
    await vi.waitFor(() => expect(calls.some((c) => c.startsWith("DeleteMessageBatchCommand r0"))).toBe(true));
    r.handBack();
    expect(calls.some((c) => c.startsWith("ChangeMessageVisibilityBatchCommand"))).toBe(false);
  });
});
