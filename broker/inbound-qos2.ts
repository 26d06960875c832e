/**
 * A session's inbound QoS 2 state: the packet ids of messages received and not yet released (PUBREL)
 * [MQTT-4.3.3-2], and the roots some of them are still being routed under (decision 025). The session creates it
 * on first use (decision 029): most devices never publish at QoS 2.
 */
export class InboundQos2 {
  /** Packet ids received and not yet released. */
  private readonly ids = new Set<number>();
  /**
   * Of `ids`, the ones whose routing the claim's snapshot does not show as finished, with the root they were routed
   * under: a PUBLISH re-sent with one is routed again under it (decision 025). Also, briefly, an id whose root record
   * this node just had applied, before its PUBLISH is routed (handlers/publish.ts). Created on first use.
   */
  private roots: Map<number, string> | null = null;

  /** The state a claim's snapshot records (`inboundQos2`, `inboundRoots`), or null when it records none. */
  static restored(ids: readonly number[], roots: Readonly<Record<number, string>> | undefined): InboundQos2 | null {
    if (ids.length === 0 && roots === undefined) return null;
    const state = new InboundQos2();
    for (const id of ids) state.ids.add(id);
    if (roots !== undefined) for (const [id, root] of Object.entries(roots)) state.routeUnder(Number(id), root);
    return state;
  }

  /** How many packet ids are not yet released. */
  get size(): number {
    return this.ids.size;
  }

  has(packetId: number): boolean {
    return this.ids.has(packetId);
  }

  /** The root `packetId` is still being routed under, if any. */
  root(packetId: number): string | undefined {
    return this.roots?.get(packetId);
  }

  /** Its PUBLISH was routed: the id is kept until PUBREL, and a root it was routed again under is done with. */
  received(packetId: number): void {
    this.ids.add(packetId);
    this.roots?.delete(packetId);
  }

  /** The root record of `packetId` was applied: its PUBLISH, handled again, is routed under `root`. */
  routeUnder(packetId: number, root: string): void {
    (this.roots ??= new Map()).set(packetId, root);
  }

  /** The PUBLISH of a recorded root was refused after all: the root is done with. */
  forgetRoot(packetId: number): void {
    this.roots?.delete(packetId);
  }

  /** PUBREL: the id is forgotten [MQTT-4.3.3-2]. True when it was known. */
  release(packetId: number): boolean {
    this.roots?.delete(packetId);
    return this.ids.delete(packetId);
  }
}
