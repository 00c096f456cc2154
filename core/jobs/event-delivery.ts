/**
 * Hands each job's stored events to the subscribed surfaces: in seq order, one at a time per job
 * and surface, at least once. The cursor (last seq a surface accepted) moves only after its
 * handler resolved and is stored in the job's record, so after a crash the surface gets again
 * exactly what it may not have seen, with the same seq numbers, and drops what it already has.
 */
import type { Logger } from "pino";
import type { Sleep } from "../models/retry.ts";
import type { EventHandler, JobContext, JobRecord, SubscribeOptions } from "./types.ts";

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;

interface Subscription {
  surface: string;
  handler: EventHandler;
  isAllJobs: boolean;
}

export interface DeliveryHost {
  record(jobId: string): JobRecord | undefined;
  jobIds(): Iterable<string>;
  /** The cursor moved; store it when convenient (it is only a hint of what to skip). */
  cursorMoved(jobId: string): void;
  sleep: Sleep;
  logger: Logger;
}

/**
 * Delivery as the service drives it: surfaces subscribe, the service says when a job has new
 * events, and a stop either settles (delivers what it can) or stops at once.
 */
export interface Delivery {
  subscribe(surface: string, handler: EventHandler, options?: SubscribeOptions): () => void;
  /** New events were stored for this job. */
  kick(jobId: string): void;
  kickAll(): void;
  settle(): Promise<void>;
  stop(): void;
}

export class EventDelivery implements Delivery {
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #pumps = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  #isSettling = false;

  constructor(readonly host: DeliveryHost) {}

  subscribe(surface: string, handler: EventHandler, options: SubscribeOptions = {}): () => void {
    if (surface.trim() === "") throw new Error("A subscription needs the surface's name.");
    if (this.#subscriptions.has(surface)) throw new Error(`The surface "${surface}" is already subscribed.`);
    const subscription: Subscription = { surface, handler, isAllJobs: options.isAllJobs ?? false };
    this.#subscriptions.set(surface, subscription);
    for (const jobId of this.host.jobIds()) this.#start(subscription, jobId);
    return () => {
      if (this.#subscriptions.get(surface) === subscription) this.#subscriptions.delete(surface);
    };
  }

  /** New events were stored for this job. */
  kick(jobId: string): void {
    for (const subscription of this.#subscriptions.values()) this.#start(subscription, jobId);
  }

  kickAll(): void {
    for (const jobId of this.host.jobIds()) this.kick(jobId);
  }

  /**
   * For a graceful stop: delivers what it can and resolves when every surface is caught up or
   * has failed once; failures are not retried, the next start() delivers them.
   */
  async settle(): Promise<void> {
    this.#isSettling = true;
    this.#stop.abort();
    while (this.#pumps.size > 0) await Promise.allSettled([...this.#pumps.values()]);
  }

  /** Stops at once: nothing new is handed to a surface. */
  stop(): void {
    this.#isSettling = true;
    this.#stop.abort();
    this.#subscriptions.clear();
  }

  #start(subscription: Subscription, jobId: string): void {
    const key = `${subscription.surface}\u0000${jobId}`;
    if (this.#pumps.has(key)) return;
    const record = this.host.record(jobId);
    if (!record || !this.#wants(subscription, record)) return;
    if ((record.cursors[subscription.surface] ?? 0) >= record.events.length) return;
    const pump = this.#pump(subscription, jobId).finally(() => this.#pumps.delete(key));
    this.#pumps.set(key, pump);
  }

  #wants(subscription: Subscription, record: JobRecord): boolean {
    return subscription.isAllJobs || record.surfaceRef.surface === subscription.surface;
  }

  async #pump(subscription: Subscription, jobId: string): Promise<void> {
    const log = this.host.logger.child({ jobId, surface: subscription.surface });
    let failures = 0;
    for (;;) {
      // Re-read every time: new events arrive, the job may be swept, the surface may unsubscribe.
      if (this.#subscriptions.get(subscription.surface) !== subscription) return;
      const record = this.host.record(jobId);
      if (!record) return;
      const cursor = record.cursors[subscription.surface] ?? 0;
      const event = record.events[cursor];
      if (!event) return;
      const context: JobContext = { jobId, requester: record.requester, surfaceRef: record.surfaceRef };
      try {
        await subscription.handler(event, context);
      } catch (error) {
        failures++;
        const delayMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (failures - 1));
        log.warn({ err: error, seq: event.seq, type: event.type, failures, delayMs }, "surface could not take an event; will retry");
        if (this.#isSettling) return;
        try {
          await this.host.sleep(delayMs, this.#stop.signal);
        } catch {
          // Stopped while waiting: the event stays undelivered and comes back after the next start.
          return;
        }
        continue;
      }
      failures = 0;
      const latest = this.host.record(jobId);
      if (!latest) return;
      latest.cursors[subscription.surface] = Math.max(latest.cursors[subscription.surface] ?? 0, event.seq);
      this.host.cursorMoved(jobId);
    }
  }
}
