import { describe, expect, it } from "vitest";
import { BackendError, CancelledError, InputError, RateLimitError } from "../../core/errors.ts";
import { withRetry } from "../../core/models/retry.ts";
import { recordingSleep, rejectionOf } from "./rejection.ts";

class Flaky extends Error {}

function failingTimes<T>(failures: number, value: T, error: () => Error = () => new Flaky("flaky")) {
  const calls: number[] = [];
  const fn = async (attempt: number) => {
    calls.push(attempt);
    if (calls.length <= failures) throw error();
    return value;
  };
  return { calls, fn };
}

const base = { attempts: 4, baseDelayMs: 100, maxDelayMs: 350, isRetryable: (e: unknown) => e instanceof Flaky };

describe("withRetry", () => {
  it("returns the first success without waiting", async () => {
    const { sleep, delays } = recordingSleep();
    const { fn, calls } = failingTimes(0, "done");
    expect(await withRetry(fn, { ...base, sleep })).toBe("done");
    expect(calls).toEqual([1]);
    expect(delays).toEqual([]);
  });

  it("retries a retryable error and returns the later success", async () => {
    const { sleep } = recordingSleep();
    const { fn, calls } = failingTimes(2, "done");
    expect(await withRetry(fn, { ...base, sleep })).toBe("done");
    expect(calls).toEqual([1, 2, 3]);
  });

  it("stops at once on an error that is not retryable", async () => {
    const { sleep } = recordingSleep();
    const { fn, calls } = failingTimes(5, "never", () => new InputError("bad"));
    expect(await rejectionOf(withRetry(fn, { ...base, sleep }))).toBeInstanceOf(InputError);
    expect(calls).toEqual([1]);
  });

  it("throws the last error once every attempt has failed", async () => {
    const { sleep } = recordingSleep();
    let n = 0;
    const fn = async () => {
      throw new Flaky(`failure ${++n}`);
    };
    const error = await rejectionOf(withRetry(fn, { ...base, sleep }));
    expect(error.message).toBe("failure 4");
  });

  it("doubles the backoff ceiling each retry and caps it at maxDelayMs", async () => {
    const { sleep, delays } = recordingSleep();
    const { fn } = failingTimes(3, "done");
    await withRetry(fn, { ...base, sleep, random: () => 0.5 });
    expect(delays).toEqual([50, 100, 175]);
  });

  it("draws each delay between zero and the ceiling (full jitter)", async () => {
    const { sleep, delays } = recordingSleep();
    const { fn } = failingTimes(2, "done");
    await withRetry(fn, { ...base, sleep, random: () => 0 });
    expect(delays).toEqual([0, 0]);
  });

  it("waits at least as long as a rate limit's Retry-After", async () => {
    const { sleep, delays } = recordingSleep();
    const { fn } = failingTimes(1, "done", () => new RateLimitError("slow down", 2_000));
    await withRetry(fn, { ...base, isRetryable: () => true, sleep, random: () => 0.5 });
    expect(delays).toEqual([2_000]);
  });

  it("gives up at once when Retry-After is longer than maxRetryAfterMs", async () => {
    const { sleep, delays } = recordingSleep();
    const { fn, calls } = failingTimes(1, "done", () => new RateLimitError("slow down", 120_000));
    const error = await rejectionOf(withRetry(fn, { ...base, isRetryable: () => true, sleep, maxRetryAfterMs: 60_000 }));
    expect(error).toBeInstanceOf(RateLimitError);
    expect(calls).toEqual([1]);
    expect(delays).toEqual([]);
  });

  it("does not call the function when the signal is already aborted", async () => {
    const { fn, calls } = failingTimes(0, "done");
    const error = await rejectionOf(withRetry(fn, { ...base, signal: AbortSignal.abort() }));
    expect(error).toBeInstanceOf(CancelledError);
    expect(calls).toEqual([]);
  });

  it("stops waiting and throws CancelledError as soon as the signal aborts during a backoff", async () => {
    const controller = new AbortController();
    const { fn, calls } = failingTimes(5, "never");
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    const error = await rejectionOf(withRetry(fn, { ...base, baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 0.99, signal: controller.signal }));
    expect(error).toBeInstanceOf(CancelledError);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(calls).toEqual([1]);
  });

  it("turns a failure caused by the abort into CancelledError instead of retrying it", async () => {
    const controller = new AbortController();
    const fn = async () => {
      controller.abort();
      throw new Flaky("aborted mid-request");
    };
    expect(await rejectionOf(withRetry(fn, { ...base, signal: controller.signal }))).toBeInstanceOf(CancelledError);
  });

  it("never retries a BackendError unless told it is retryable", async () => {
    const { sleep } = recordingSleep();
    const { fn, calls } = failingTimes(3, "done", () => new BackendError("down", "mllm"));
    await rejectionOf(withRetry(fn, { ...base, sleep }));
    expect(calls).toEqual([1]);
  });
});
