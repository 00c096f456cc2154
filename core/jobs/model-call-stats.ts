/**
 * How long model calls take, by model and GEMS role: timed inside the model slot, so waiting for
 * a free slot is not counted. Kept as cumulative histogram buckets that surfaces can render
 * (the web studio's /metrics does, in Prometheus form).
 */
export type ModelKind = "mllm" | "generator";

/** Upper bounds in seconds: from a fast verifier answer to a slow diffusion model on a busy GPU. */
export const MODEL_CALL_BUCKETS_SECONDS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface ModelCallSeries {
  model: ModelKind;
  /** The GEMS role for MLLM calls (planner, verifier, …); "generator" for images. */
  role: string;
  count: number;
  failures: number;
  sumSeconds: number;
  /** Calls at or under each bound of MODEL_CALL_BUCKETS_SECONDS, cumulative as Prometheus wants. */
  buckets: number[];
}

export class ModelCallStats {
  readonly #series = new Map<string, ModelCallSeries>();

  record(model: ModelKind, role: string, seconds: number, isOk: boolean): void {
    const key = `${model}/${role}`;
    let series = this.#series.get(key);
    if (!series) {
      series = { model, role, count: 0, failures: 0, sumSeconds: 0, buckets: MODEL_CALL_BUCKETS_SECONDS.map(() => 0) };
      this.#series.set(key, series);
    }
    series.count++;
    if (!isOk) series.failures++;
    series.sumSeconds += seconds;
    MODEL_CALL_BUCKETS_SECONDS.forEach((bound, i) => {
      if (seconds <= bound) series.buckets[i] = (series.buckets[i] ?? 0) + 1;
    });
  }

  /** A copy, sorted by model and role, so callers can render it without locking anything. */
  snapshot(): ModelCallSeries[] {
    return [...this.#series.values()]
      .map((series) => ({ ...series, buckets: [...series.buckets] }))
      .sort((a, b) => `${a.model}/${a.role}`.localeCompare(`${b.model}/${b.role}`));
  }
}
