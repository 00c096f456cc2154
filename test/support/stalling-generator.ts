/**
 * A generator that never finishes: it reports one partial drawing at 30% and then draws until
 * the job is stopped, so a preview test can catch a job mid-image (and restart or stop it there).
 */
import type { ImageGenerator } from "../../core/models/ports.ts";
import { partialDrawings } from "../../servers/sim/partial-drawings.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";

const abortError = () => Object.assign(new Error("aborted"), { name: "AbortError" });

/** `reported` resolves once the partial drawing has been handed to the job. */
export function stallingGenerator(): ImageGenerator & { reported: Promise<void> } {
  const sim = createSimGenerator({ width: 64, height: 64 });
  let reported = (): void => undefined;
  const promise = new Promise<void>((resolve) => (reported = resolve));
  return {
    name: "stalling",
    reported: promise,
    async generate(request) {
      const { onProgress, ...plain } = request;
      const [partial] = partialDrawings(await sim.generate(plain), 1);
      onProgress?.({ percent: 30, preview: partial!.png });
      reported();
      return new Promise((_, reject) => {
        if (request.signal?.aborted) return reject(abortError());
        request.signal?.addEventListener("abort", () => reject(abortError()), { once: true });
      });
    },
  };
}
