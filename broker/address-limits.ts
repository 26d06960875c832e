/**
 * Per source address limits, checked when a socket is accepted (before any byte is read): open connections
 * per address, and new connections per address and second (a token bucket). Beyond either the socket is
 * closed at once: cheaper than reading a CONNECT to answer 0x03, and a flood costs the broker no parsing.
 *
 * The table of addresses is bounded: an address with open connections is always kept (there are at most
 * maxConnections of those), idle ones are forgotten least recently seen first beyond `maxTrackedAddresses`
 * (a forgotten address starts again with a full bucket, which only ever errs toward accepting).
 */
import { addressKey } from "../core/auth/address.js";
import type { LimitsConfig } from "../core/config/types.js";

interface AddressState {
  /**
   * The table's key, given to every connection from the address: one string for all of them, not one each (32 bytes
   * per device behind a shared address, seen in a heap snapshot of 2,000 devices).
   */
  readonly key: string;
  open: number;
  tokens: number;
  /** When `tokens` was last refilled (ms). */
  at: number;
}

/** Entries one eviction looks at, at most. */
const EVICTION_STEPS = 64;

export type AddressRefusal = "address-connections" | "address-rate";

export class AddressLimits {
  /** Map order = least recently seen first (an entry is moved to the end when used). */
  private readonly table = new Map<string, AddressState>();
  /**
   * The key added or moved to the end last, which is already where a use would move it. A burst from one address
   * (a NAT gateway, a load balancer) then costs the table nothing: each move deletes an entry and adds one, and once
   * the deleted slots fill V8's table it is rehashed into a new one, in the old generation when the table is there,
   * as garbage that only a full GC takes back (about 77 bytes per connection: 7.7 MB over 100,000 connections from
   * one address in test/unit/auth-queue.test.ts).
   */
  private newest: string | null = null;
  private readonly refused = { "address-connections": 0, "address-rate": 0 };

  constructor(
    private readonly limits: Pick<
      LimitsConfig,
      "maxConnectionsPerAddress" | "connectionRatePerAddress" | "connectionBurstPerAddress" | "maxTrackedAddresses"
    >,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Counts a new connection from `remote` ("ip:port" or ip) and returns its key, or refuses it (the reason,
   * counted). A key returned must be given back to `release` when the connection closes.
   */
  admit(remote: string): { key: string } | { refused: AddressRefusal } {
    const { maxConnectionsPerAddress: maxOpen, connectionRatePerAddress: rate, connectionBurstPerAddress: burst } = this.limits;
    const key = addressKey(remote);
    const now = this.now();
    let state = this.table.get(key);
    if (state === undefined) {
      state = { key, open: 0, tokens: burst, at: now };
      this.evictIdle();
      this.table.set(key, state);
    } else {
      if (key !== this.newest) {
        this.table.delete(key);
        this.table.set(key, state);
      }
      if (rate > 0) {
        state.tokens = Math.min(burst, state.tokens + ((now - state.at) * rate) / 1000);
        state.at = now;
      }
    }
    this.newest = key;
    if (maxOpen > 0 && state.open >= maxOpen) return this.refuse("address-connections");
    if (rate > 0) {
      if (state.tokens < 1) return this.refuse("address-rate");
      state.tokens -= 1;
    }
    state.open++;
    return { key: state.key };
  }

  release(key: string): void {
    const state = this.table.get(key);
    if (state !== undefined && state.open > 0) state.open--;
  }

  /** Open connections counted for an address (tests, diagnostics). */
  openFrom(remote: string): number {
    return this.table.get(addressKey(remote))?.open ?? 0;
  }

  get trackedAddresses(): number {
    return this.table.size;
  }

  refusals(): Readonly<Record<AddressRefusal, number>> {
    return this.refused;
  }

  private refuse(reason: AddressRefusal): { refused: AddressRefusal } {
    this.refused[reason]++;
    return { refused: reason };
  }

  /**
   * Makes room for one more address: forgets the least recently seen idle ones. Busy addresses met on the way
   * move to the end, and one call looks at a bounded number of entries, so a table full of busy addresses
   * costs O(1) per new address (the table then exceeds the bound by busy addresses only).
   */
  private evictIdle(): void {
    for (let steps = 0; steps < EVICTION_STEPS && this.table.size >= this.limits.maxTrackedAddresses; steps++) {
      const first = this.table.entries().next().value;
      if (first === undefined) return;
      const [key, state] = first;
      this.table.delete(key);
      if (state.open > 0) this.table.set(key, state);
    }
  }
}
