import type { ClientPolicy, DeliveryGuard } from "../core/auth/types.js";

/**
 * What a session's client may read (docs/auth.md, "Exact authorization"): its policy, and the delivery guards the
 * policy puts on its subscriptions and on deliveries whose subscription is not known. The session creates it with
 * the first policy it is given (`Session.usePolicy`): a session this node does not serve (a cluster stub, a restored
 * one) has none, and its deliveries are not checked.
 */
export class DeliveryGuards {
  /** The policy of the client the session serves (kept while it is offline here), or null when not known here. */
  private current: ClientPolicy | null = null;
  /** Every deny pattern of the policy: for deliveries whose subscription is not known (routed, held, stored). */
  private readGuard: DeliveryGuard | null = null;
  /**
   * Guards of the subscriptions that overlap deny patterns; the others have none (their deliveries pay nothing).
   * Created with the first one: most sessions never need it.
   */
  private byFilter: Map<string, DeliveryGuard> | null = null;

  get policy(): ClientPolicy | null {
    return this.current;
  }

  /** From now on deliveries are authorized against `policy` (null: not known here); subscriptions set later get their guards from it. */
  use(policy: ClientPolicy | null): void {
    this.current = policy;
    this.readGuard = policy?.deliveryGuard?.() ?? null;
  }

  /** The guard of subscription `filter` (of `guardFilter`, its topic filter), kept; null: deliveries through it are not checked. */
  subscribed(filter: string, guardFilter: string): DeliveryGuard | null {
    const guard = this.current?.deliveryGuard?.(guardFilter) ?? null;
    if (guard !== null) (this.byFilter ??= new Map()).set(filter, guard);
    else this.byFilter?.delete(filter);
    return guard;
  }

  unsubscribed(filter: string): void {
    this.byFilter?.delete(filter);
  }

  clear(): void {
    this.byFilter = null;
  }

  /** See Session.mayReceive: pure and allocation-free. */
  mayReceive(topic: string, filter: string): boolean {
    if (this.byFilter === null) return true;
    const guard = this.byFilter.get(filter);
    return guard === undefined || !guard.refuses(topic);
  }

  mayReceiveAny(topic: string): boolean {
    return this.readGuard === null || !this.readGuard.refuses(topic);
  }
}
