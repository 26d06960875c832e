/**
 * A store sweep on a timer, as every node runs them (expired sessions, expired retained messages): one run at a
 * time (a call while one runs shares it), a failed run reported and retried at the next tick.
 */
export class PeriodicSweep {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;

  constructor(
    /** The store operation, as store errors name it. */
    private readonly operation: string,
    private readonly intervalMs: number,
    /** One run; resolves with what it removed. */
    private readonly work: () => Promise<number>,
    private readonly onError: (operation: string, err: Error) => void,
  ) {}

  /**
   * Sweeps every `intervalMs`. `randomPhase`: the first sweep comes at a random point of the first interval, so the
   * nodes of a cluster take turns rather than all calling at once.
   */
  start(randomPhase: boolean): void {
    if (this.timer !== null) return;
    const every = (): void => {
      this.timer = setInterval(() => void this.sweep(), this.intervalMs);
      this.timer.unref();
    };
    if (!randomPhase) {
      every();
      return;
    }
    this.timer = setTimeout(() => {
      every();
      void this.sweep();
    }, Math.floor(Math.random() * this.intervalMs));
    this.timer.unref();
  }

  /** One sweep now; resolves with what this node removed (0 after a failure). */
  sweep(): Promise<number> {
    this.running ??= this.work()
      .catch((err: unknown) => {
        this.onError(this.operation, err as Error);
        return 0;
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    // clearTimeout clears an interval too.
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
