/**
 * How often live previews may touch Slack. A preview is shown as the percent on the job's
 * status card (one chat.update), and chat.update is a Tier 3 method: about 50 calls a minute
 * per workspace, shared with every other card and message edit the bot makes. So on top of the
 * core's one preview per iteration per interval, a job's card takes at most one preview every
 * `perJobMs`, and all jobs together at most `perMinute` a minute; a preview over budget is
 * dropped (a newer one follows), never queued, so previews never delay the real messages.
 */
export interface PreviewPacingOptions {
  perJobMs: number;
  perMinute: number;
  now?: () => number;
}

export const SLACK_PREVIEW_PACING: PreviewPacingOptions = { perJobMs: 5_000, perMinute: 20 };

const MINUTE_MS = 60_000;

export class PreviewPacing {
  readonly #lastByJob = new Map<string, number>();
  #recent: number[] = [];
  readonly #now: () => number;

  constructor(readonly options: PreviewPacingOptions = SLACK_PREVIEW_PACING) {
    this.#now = options.now ?? Date.now;
  }

  /** True (and counted) when this job may show a preview now. */
  take(jobId: string): boolean {
    const now = this.#now();
    const last = this.#lastByJob.get(jobId);
    if (last !== undefined && now - last < this.options.perJobMs) return false;
    this.#recent = this.#recent.filter((at) => now - at < MINUTE_MS);
    if (this.#recent.length >= this.options.perMinute) return false;
    this.#recent.push(now);
    this.#lastByJob.set(jobId, now);
    return true;
  }

  /** The job ended: forget it. */
  forget(jobId: string): void {
    this.#lastByJob.delete(jobId);
  }
}
