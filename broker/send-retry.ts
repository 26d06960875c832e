/** Longest wait between two attempts. */
const MAX_BACKOFF_MS = 2000;

export interface SendRetry {
  /** Whether to stop after this failure (rethrown to the caller) instead of trying again. */
  giveUp(err: Error, attempt: number): boolean;
  /** Reports a failure that will be retried. */
  onError(err: Error): void;
}

/**
 * Runs `send` until it succeeds, waiting 50 ms, 100 ms, ... up to 2 s between attempts (decision 032): a node's
 * forwards wait out an SQS outage or a partition the way its store batches do, instead of being dropped after the
 * SQS client's own few quick retries. What `giveUp` accepts is rethrown.
 */
export async function sendUntilTaken(send: () => Promise<void>, retry: SendRetry): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await send();
      return;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (retry.giveUp(error, attempt)) throw error;
      retry.onError(error);
      await retryPause(attempt);
    }
  }
}

/**
 * The wait after failed attempt `attempt` (1, 2, ...) of a call retried until it succeeds: 50 ms, 100 ms, ... up to
 * 2 s. The timer does not keep the process alive.
 */
export function retryPause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 25 * 2 ** Math.min(attempt, 10))).unref());
}
