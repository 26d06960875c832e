/**
 * Circuit breaker for an external authorizer: after `failures` consecutive failures it opens for `openMs` (calls are
 * refused at once, so a dead authorizer costs CONNECTs nothing but a 0x03), then lets one trial call through
 * (half-open): success closes it, failure reopens it for another `openMs`.
 */
export type BreakerState = "closed" | "open" | "half-open";

export class CircuitBreaker {
  private consecutive = 0;
  private openUntil = 0;
  private trialInFlight = false;

  constructor(
    private readonly failures: number,
    private readonly openMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.openUntil === 0) return "closed";
    return this.now() < this.openUntil ? "open" : "half-open";
  }

  /** May a call go out now? In half-open, only one (the trial) until it reports back. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === "closed") return true;
    if (state === "open" || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.consecutive = 0;
    this.openUntil = 0;
    this.trialInFlight = false;
  }

  failure(): void {
    this.consecutive++;
    const trial = this.trialInFlight;
    this.trialInFlight = false;
    if (trial || this.consecutive >= this.failures) this.openUntil = this.now() + this.openMs;
  }
}
