/**
 * The generator and MLLM call limits (GEMS_GENERATOR_CONCURRENCY, GEMS_MLLM_CONCURRENCY) as the
 * running module needs them: a place to hold a slot around one call. In one process they are
 * semaphores; across workers they must live where every worker counts against the same limit.
 */
import type { JobLimits } from "./limits.ts";
import { Semaphore } from "./semaphore.ts";

export interface CallSlots {
  /** Runs `task` holding a slot; rejects with CancelledError if `signal` aborts while waiting. */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Calls holding a slot, as far as this process knows. */
  readonly inFlight: number;
  /** Calls of this process waiting for a slot. */
  readonly waiting: number;
}

export interface ModelSlots {
  generator: CallSlots;
  mllm: CallSlots;
}

export function createLocalModelSlots(limits: Pick<JobLimits, "generatorConcurrency" | "mllmConcurrency">): ModelSlots {
  return { generator: new Semaphore(limits.generatorConcurrency), mllm: new Semaphore(limits.mllmConcurrency) };
}
