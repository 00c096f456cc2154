/**
 * Live previews of one iteration: turns the generator's progress reports (as often as its server
 * sends them) into at most one `image.preview` event per interval, each carrying the newest
 * percent and partial image. Previews are a courtesy, never part of the job's memory: a failure
 * here is logged and dropped, nothing waits for it, and a restarted job simply goes without them.
 */
import type { Logger } from "pino";
import type { ImageProgress } from "../models/ports.ts";
import type { ImageStore } from "../memory/stores.ts";
import type { AgentEvent, ImageRef } from "./events.ts";
import { CancelledError } from "../errors.ts";

/** Default spacing of previews per iteration: well inside Discord's and Slack's edit limits. */
export const DEFAULT_PREVIEW_INTERVAL_MS = 2_500;

/** Time for the throttle; tests pass a manual one. */
export interface PreviewClock {
  now(): number;
  /** Runs `task` after `ms`; returns a function that cancels it. */
  schedule(task: () => void, ms: number): () => void;
}

export const systemPreviewClock: PreviewClock = {
  now: () => Date.now(),
  schedule(task, ms) {
    const timer = setTimeout(task, ms);
    // A pending preview must never keep a finishing process alive.
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

export interface PreviewSettings {
  /** At most one preview per iteration per this many ms; 0 turns previews off. */
  intervalMs?: number;
  clock?: PreviewClock;
}

type PreviewEvent = Extract<AgentEvent, { type: "image.preview" }>;

export interface IterationPreviews {
  /** Give this to the generator as `ImageRequest.onProgress`. */
  onProgress(progress: ImageProgress): void;
  /**
   * The generator returned or failed: from now on nothing is emitted. Call it before the
   * iteration's next event is committed, so no preview ever follows its final image.
   */
  close(): void;
  /** After the final image is stored: deletes the preview files, except any `isKept` says to keep. */
  discard(isKept: (hash: string) => boolean): void;
}

/**
 * Starts the previews of iteration `n`, or returns null when previews are off. `emit` commits
 * an event; it is called only while the iteration is still being drawn.
 */
export function startPreviews(
  n: number,
  deps: { images: ImageStore; emit: (event: PreviewEvent) => Promise<void>; logger: Logger },
  settings: PreviewSettings = {},
): IterationPreviews | null {
  const intervalMs = settings.intervalMs ?? DEFAULT_PREVIEW_INTERVAL_MS;
  if (intervalMs <= 0) return null;
  const clock = settings.clock ?? systemPreviewClock;
  const { images, emit, logger } = deps;

  let pending: { percent: number; preview: Uint8Array | null } | null = null;
  let shown: ImageRef | null = null;
  let lastEmitAt: number | null = null;
  let isBusy = false;
  let isClosed = false;
  let keep: ((hash: string) => boolean) | null = null;
  let cancelTimer: (() => void) | null = null;
  const stored = new Set<string>();

  const forget = (hash: string): void => {
    if (keep === null || keep(hash)) return;
    void images.delete(hash).catch((error: unknown) => logger.debug({ err: error, n }, "could not delete a preview image"));
  };

  const pump = (): void => {
    if (isClosed || isBusy || pending === null || cancelTimer !== null) return;
    const waitMs = lastEmitAt === null ? 0 : lastEmitAt + intervalMs - clock.now();
    if (waitMs > 0) {
      cancelTimer = clock.schedule(() => {
        cancelTimer = null;
        pump();
      }, waitMs);
      return;
    }
    const { percent, preview } = pending;
    pending = null;
    isBusy = true;
    lastEmitAt = clock.now();
    void (async () => {
      if (preview !== null) {
        const hash = await images.put(preview);
        stored.add(hash);
        if (isClosed) return forget(hash);
        shown = { hash };
      }
      // Checked right before the commit, which stamps the event synchronously: once close()
      // ran, the final image (or the failure) is next in the log and a preview would be stale.
      if (isClosed) return;
      await emit({ type: "image.preview", n, percent, image: shown });
    })()
      .catch((error: unknown) => {
        if (error instanceof CancelledError) return;
        logger.warn({ err: error, n }, "a preview was dropped");
      })
      .finally(() => {
        isBusy = false;
        pump();
      });
  };

  return {
    onProgress(progress) {
      if (isClosed || !Number.isFinite(progress.percent)) return;
      const percent = Math.round(Math.min(100, Math.max(0, progress.percent)));
      // A report with only a percentage keeps the newest unsent picture (ComfyUI sends them apart).
      pending = { percent, preview: progress.preview ?? pending?.preview ?? null };
      pump();
    },
    close() {
      isClosed = true;
      pending = null;
      cancelTimer?.();
      cancelTimer = null;
    },
    discard(isKept) {
      keep = isKept;
      for (const hash of stored) forget(hash);
    },
  };
}
