import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isOrderKey, orderKey, orderTag } from "../../core/order-key.js";

// Order keys are stored (Redis) and compared across nodes, so a node of a later version must compute a client's tag
// exactly as every earlier one did: a rolling deploy mixes them.
describe("orderTag", () => {
  it("is the first 12 characters of the client id's SHA-1 in base64url, as it has been since decision 038", () => {
    expect(orderTag("device-1")).toBe("75ozA8RZOZRG");
    for (const id of ["device-1", "", "ünïcode/设备", "x".repeat(65_535)]) {
      expect(orderTag(id)).toBe(createHash("sha1").update(id).digest("base64url").slice(0, 12));
    }
  });

  it("makes keys the order-key check accepts", () => {
    expect(isOrderKey(orderKey(orderTag("ünïcode/设备"), 7, 42))).toBe(true);
  });
});
