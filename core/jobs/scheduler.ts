/**
 * Which queued job starts next, fairly across people: the person with the fewest running jobs
 * goes first; among equals, the one served least recently (round robin), then the one whose
 * oldest job has waited longest. One person's ten jobs therefore take turns with another's one
 * instead of running ahead of it.
 */

interface Choice {
  jobId: string;
  personId: string;
}

export class FairQueue {
  /** Per person, their queued job ids in submission order. */
  readonly #lanes = new Map<string, string[]>();
  /** Jobs that were running when the service stopped: they had a slot, so they get one first. */
  readonly #resumed: Choice[] = [];
  readonly #personOf = new Map<string, string>();
  readonly #enqueuedAt = new Map<string, number>();
  /** Per person, the turn at which one of their jobs last started. */
  readonly #lastServed = new Map<string, number>();
  #enqueueCount = 0;
  #turn = 0;

  get size(): number {
    return this.#personOf.size;
  }

  has(jobId: string): boolean {
    return this.#personOf.has(jobId);
  }

  /** How many of this person's jobs are waiting. */
  countFor(personId: string): number {
    return (this.#lanes.get(personId)?.length ?? 0) + this.#resumed.filter((c) => c.personId === personId).length;
  }

  enqueue(jobId: string, personId: string, options: { isResumed?: boolean } = {}): void {
    if (this.#personOf.has(jobId)) return;
    this.#personOf.set(jobId, personId);
    this.#enqueuedAt.set(jobId, this.#enqueueCount++);
    if (options.isResumed) {
      this.#resumed.push({ jobId, personId });
      return;
    }
    const lane = this.#lanes.get(personId) ?? [];
    lane.push(jobId);
    this.#lanes.set(personId, lane);
  }

  remove(jobId: string): boolean {
    const personId = this.#personOf.get(jobId);
    if (personId === undefined) return false;
    this.#personOf.delete(jobId);
    this.#enqueuedAt.delete(jobId);
    const resumedAt = this.#resumed.findIndex((c) => c.jobId === jobId);
    if (resumedAt >= 0) this.#resumed.splice(resumedAt, 1);
    const lane = this.#lanes.get(personId);
    if (lane) {
      const index = lane.indexOf(jobId);
      if (index >= 0) lane.splice(index, 1);
      if (lane.length === 0) this.#lanes.delete(personId);
    }
    return true;
  }

  /**
   * Removes and returns the job to start next; `running` counts a person's running jobs. A job
   * that is not ready yet (its record is still being written) keeps its place, and so holds
   * back its person's later jobs.
   */
  takeNext(running: (personId: string) => number, isReady: (jobId: string) => boolean = () => true): string | undefined {
    const head = (personId: string): string | undefined => {
      const jobId = this.#lanes.get(personId)?.[0];
      return jobId !== undefined && isReady(jobId) ? jobId : undefined;
    };
    const choice = this.#resumed.find((c) => isReady(c.jobId)) ?? this.#choose(running, this.#lastServed, head);
    if (choice === undefined) return undefined;
    this.remove(choice.jobId);
    this.#lastServed.set(choice.personId, this.#turn++);
    return choice.jobId;
  }

  /** The order in which queued jobs would start if no running job finished first. */
  order(running: (personId: string) => number): string[] {
    const order = this.#resumed.map((c) => c.jobId);
    const counts = new Map<string, number>();
    for (const c of this.#resumed) counts.set(c.personId, (counts.get(c.personId) ?? running(c.personId)) + 1);
    const lastServed = new Map(this.#lastServed);
    const next = new Map<string, number>();
    let turn = this.#turn;
    for (;;) {
      const choice = this.#choose(
        (personId) => counts.get(personId) ?? running(personId),
        lastServed,
        (personId) => this.#lanes.get(personId)?.[next.get(personId) ?? 0],
      );
      if (choice === undefined) return order;
      order.push(choice.jobId);
      next.set(choice.personId, (next.get(choice.personId) ?? 0) + 1);
      counts.set(choice.personId, (counts.get(choice.personId) ?? running(choice.personId)) + 1);
      lastServed.set(choice.personId, turn++);
    }
  }

  #choose(
    running: (personId: string) => number,
    lastServed: ReadonlyMap<string, number>,
    headOf: (personId: string) => string | undefined,
  ): Choice | undefined {
    let best: { choice: Choice; key: [number, number, number] } | undefined;
    for (const personId of this.#lanes.keys()) {
      const jobId = headOf(personId);
      if (jobId === undefined) continue;
      // Never served sorts before everyone who was.
      const key: [number, number, number] = [
        running(personId),
        lastServed.get(personId) ?? -1,
        this.#enqueuedAt.get(jobId) ?? 0,
      ];
      if (best === undefined || isBefore(key, best.key)) best = { choice: { jobId, personId }, key };
    }
    return best?.choice;
  }
}

function isBefore(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number);
  }
  return false;
}
