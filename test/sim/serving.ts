import type { History } from "./history.js";
import type { SimNode } from "./node.js";

/**
 * Watches which nodes hold a connection for each client id ("serving" it) and records in History every stretch
 * during which two live, unpaused nodes did so at once; the checker judges their length.
 */
export class ServingMonitor {
  private readonly open = new Map<string, { nodes: string[]; from: number }>();

  constructor(
    private readonly history: History,
    private readonly nodes: () => readonly SimNode[],
  ) {}

  sample(): void {
    const by = new Map<string, string[]>();
    for (const n of this.nodes()) for (const id of n.serving()) by.set(id, [...(by.get(id) ?? []), n.id]);
    const now = Date.now();
    for (const [id, nodes] of by) {
      if (nodes.length > 1 && !this.open.has(id)) this.open.set(id, { nodes, from: now });
    }
    for (const [id, o] of this.open) {
      if ((by.get(id)?.length ?? 0) > 1) continue;
      this.history.overlaps.push({ clientId: id, nodes: o.nodes, from: o.from, to: now });
      this.open.delete(id);
    }
  }

  /** Ends the stretches still open (at the end of a run). */
  close(): void {
    for (const [id, o] of this.open) this.history.overlaps.push({ clientId: id, nodes: o.nodes, from: o.from, to: Date.now() });
    this.open.clear();
  }
}
