import { CancelledError, RateLimitError } from "../errors.ts";

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface RetryOptions {
  /** Total tries, the first one included; at least 1. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  signal?: AbortSignal;
  isRetryable: (error: unknown) => boolean;
  sleep?: Sleep;
  /** A number in [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  /**
   * A Retry-After longer than this is not waited out: the error is thrown at once, because
   * holding a job for minutes is worse than telling the user to try again later.
   */
  maxRetryAfterMs?: number;
  onRetry?: (retry: { attempt: number; delayMs: number; error: unknown }) => void;
}

const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error, or runs out of attempts
 * (then its last error is thrown). Waits with exponential backoff and full jitter between
 * tries, or at least as long as a RateLimitError's `retryAfterMs` asks.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { signal } = options;
  const sleep = options.sleep ?? sleepUnlessAborted;
  const random = options.random ?? Math.random;
  const attempts = Math.max(1, Math.floor(options.attempts));

  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (error instanceof CancelledError) throw error;
      if (signal?.aborted) throw new CancelledError(undefined, { cause: error });
      if (attempt >= attempts || !options.isRetryable(error)) throw error;

      const delayMs = nextDelayMs(attempt, error, options, random);
      if (delayMs === undefined) throw error;
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal);
      throwIfAborted(signal);
    }
  }
}

function nextDelayMs(
  attempt: number,
  error: unknown,
  options: RetryOptions,
  random: () => number,
): number | undefined {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  if (!(error instanceof RateLimitError) || error.retryAfterMs === undefined) return jittered;
  if (error.retryAfterMs > (options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS)) return undefined;
  return Math.max(error.retryAfterMs, jittered);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError(undefined, { cause: signal.reason });
}

/** A timer that rejects with CancelledError as soon as the signal aborts. */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CancelledError(undefined, { cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError(undefined, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
