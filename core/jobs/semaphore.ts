import { CancelledError } from "../errors.ts";

export type Release = () => void;

/**
 * At most `limit` holders at once; waiters are served first come, first served, so a burst from
 * one job cannot overtake calls that were already waiting.
 */
export class Semaphore {
  #inFlight = 0;
  readonly #waiters: Array<{ grant: () => void }> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`A semaphore needs a limit of at least 1 (got ${limit}).`);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with a release function once a slot is free; rejects with CancelledError if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(new CancelledError());
    if (this.#inFlight < this.limit) {
      this.#inFlight++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#releaser());
        },
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(new CancelledError());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Runs `task` holding a slot. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await task();
    } finally {
      release();
    }
  }

  #releaser(): Release {
    let isReleased = false;
    return () => {
      // A double release would let one more call through than the limit allows.
      if (isReleased) return;
      isReleased = true;
      const next = this.#waiters.shift();
      // The slot passes straight to the next waiter, so the count never dips and lets a newcomer in.
      if (next) next.grant();
      else this.#inFlight--;
    };
  }
}
