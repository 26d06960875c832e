/** Why a node link (or one inbound connection) was cut or refused. */
export type LinkRejectReason = "handshake-limit" | "handshake-timeout" | "bad-auth" | "oversize" | "malformed";

/** Why a batch went by SQS instead of a link. */
export type LinkFallbackReason = "down" | "saturated" | "ack-timeout" | "nack" | "cut" | "too-large";

/** Counts of what the links did (GET /metrics: mqgate_link_*). */
export class LinkCounters {
  readonly rejectedBy: Record<LinkRejectReason, number> = { "handshake-limit": 0, "handshake-timeout": 0, "bad-auth": 0, oversize: 0, malformed: 0 };
  readonly fallbackBy: Record<LinkFallbackReason, number> = { down: 0, saturated: 0, "ack-timeout": 0, nack: 0, cut: 0, "too-large": 0 };
  acceptedLinks = 0;
  receivedMessages = 0;
  sentBatches = 0;
  ackedBatches = 0;
  /** Node messages a receiver skipped because the other path had already handled them. */
  duplicates = 0;

  rejected(reason: LinkRejectReason): void {
    this.rejectedBy[reason]++;
  }

  fallback(reason: LinkFallbackReason): void {
    this.fallbackBy[reason]++;
  }

  accepted(): void {
    this.acceptedLinks++;
  }

  received(n: number): void {
    this.receivedMessages += n;
  }
}
