import { describe, expect, it } from "vitest";
import { startPreviews } from "../../core/agent/previews.ts";
import { runJob, type AgentDeps } from "../../core/agent/run-job.ts";
import type { AgentEvent } from "../../core/agent/events.ts";
import { createInMemoryImageStore, hashImage } from "../../core/memory/image-store.ts";
import { createTrajectory } from "../../core/memory/trajectory.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { join } from "node:path";
import { createManualClock } from "../support/manual-clock.ts";

type Preview = Extract<AgentEvent, { type: "image.preview" }>;
const settle = () => new Promise((resolve) => setImmediate(resolve));
const bytes = (label: string) => new TextEncoder().encode(label);

function harness(options: { intervalMs?: number; images?: ImageStore } = {}) {
  const clock = createManualClock(1_000);
  const images = options.images ?? createInMemoryImageStore();
  const emitted: Preview[] = [];
  const previews = startPreviews(
    2,
    { images, emit: async (event) => void emitted.push(event), logger: silentLogger },
    { intervalMs: options.intervalMs ?? 2_500, clock },
  );
  if (!previews) throw new Error("previews are on in this harness");
  return { clock, images, emitted, previews };
}

describe("preview throttle", () => {
  it("emits the first report at once and then at most one per interval, the newest one", async () => {
    const { clock, emitted, previews } = harness();
    previews.onProgress({ percent: 10, preview: bytes("a") });
    await settle();
    expect(emitted).toEqual([{ type: "image.preview", n: 2, percent: 10, image: { hash: hashImage(bytes("a")) } }]);

    for (const percent of [20, 30, 40]) previews.onProgress({ percent, preview: bytes(`p${percent}`) });
    clock.advance(2_499);
    await settle();
    expect(emitted).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(emitted.at(-1)).toEqual({ type: "image.preview", n: 2, percent: 40, image: { hash: hashImage(bytes("p40")) } });
    expect(emitted).toHaveLength(2);
  });

  it("keeps the newest unsent picture when a later report has only a percentage", async () => {
    const { clock, emitted, previews } = harness();
    previews.onProgress({ percent: 5, preview: null });
    await settle();
    expect(emitted[0]).toMatchObject({ percent: 5, image: null });
    previews.onProgress({ percent: 50, preview: bytes("half") });
    previews.onProgress({ percent: 60, preview: null });
    clock.advance(2_500);
    await settle();
    expect(emitted[1]).toEqual({ type: "image.preview", n: 2, percent: 60, image: { hash: hashImage(bytes("half")) } });
    // Later percent-only reports keep showing the last picture, so every event stands on its own.
    previews.onProgress({ percent: 70, preview: null });
    clock.advance(2_500);
    await settle();
    expect(emitted[2]).toEqual({ type: "image.preview", n: 2, percent: 70, image: { hash: hashImage(bytes("half")) } });
  });

  it("rounds and clamps the percentage and ignores reports that are not numbers", async () => {
    const { clock, emitted, previews } = harness();
    previews.onProgress({ percent: Number.NaN, preview: null });
    previews.onProgress({ percent: 142.7, preview: null });
    await settle();
    previews.onProgress({ percent: 33.4, preview: null });
    clock.advance(2_500);
    await settle();
    expect(emitted.map((e) => e.percent)).toEqual([100, 33]);
  });

  it("emits nothing once the generator returned, not even a report that was waiting", async () => {
    const { clock, emitted, previews } = harness();
    previews.onProgress({ percent: 10, preview: null });
    await settle();
    previews.onProgress({ percent: 90, preview: bytes("late") });
    previews.close();
    clock.advance(10_000);
    previews.onProgress({ percent: 95, preview: null });
    await settle();
    expect(emitted.map((e) => e.percent)).toEqual([10]);
    expect(clock.pendingTasks).toBe(0);
  });

  it("never waits for a slow image store, and deletes a preview stored after the end", async () => {
    const inner = createInMemoryImageStore();
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: ImageStore = { ...inner, put: async (png) => (await gate, inner.put(png)) };
    const { emitted, previews } = harness({ images: slow });
    previews.onProgress({ percent: 40, preview: bytes("slow") });
    previews.close();
    previews.discard(() => false);
    release();
    await settle();
    await settle();
    expect(emitted).toEqual([]);
    expect(await inner.has(hashImage(bytes("slow")))).toBe(false);
  });

  it("deletes the previews it stored when discarded, but not an image it is told to keep", async () => {
    const { clock, images, previews } = harness();
    previews.onProgress({ percent: 25, preview: bytes("one") });
    await settle();
    previews.onProgress({ percent: 50, preview: bytes("final") });
    clock.advance(2_500);
    await settle();
    previews.close();
    const kept = hashImage(bytes("final"));
    previews.discard((hash) => hash === kept);
    await settle();
    expect(await images.has(hashImage(bytes("one")))).toBe(false);
    expect(await images.has(kept)).toBe(true);
  });

  it("is off with an interval of 0", () => {
    expect(startPreviews(1, { images: createInMemoryImageStore(), emit: async () => undefined, logger: silentLogger }, { intervalMs: 0 })).toBeNull();
  });
});

describe("previews in the GEMS loop", () => {
  async function runWith(generator: ImageGenerator, intervalMs: number) {
    const events: AgentEvent[] = [];
    const images = createInMemoryImageStore();
    const deps: AgentDeps = {
      mllm: createSimMllm(),
      generator,
      skills: await loadSkillLibrary(join(import.meta.dirname, "../../skills")),
      images,
      commit: async (_t, batch) => void events.push(...batch),
      verifyConcurrency: 4,
      logger: silentLogger,
      previews: { intervalMs },
    };
    const trajectory = createTrajectory("job-previews", { prompt: "a red cube", skill: "none", maxIterations: 2, seed: 3 });
    const result = await runJob(trajectory, deps);
    return { events, images, result };
  }

  it("emits the sim's partial drawings before each final image and never after it", async () => {
    const { events, images, result } = await runWith(createSimGenerator({ latencyMs: 80, width: 64, height: 64 }), 1);
    expect(result.status).toBe("done");
    for (const it of result.iterations) {
      const own = events.filter((e) => "n" in e && e.n === it.n && (e.type === "image.preview" || e.type === "image.ready"));
      expect(own.at(-1)?.type).toBe("image.ready");
      const previews = own.filter((e): e is Preview => e.type === "image.preview");
      expect(previews.length).toBeGreaterThan(0);
      expect(previews.map((p) => p.percent)).toEqual([...previews.map((p) => p.percent)].sort((a, b) => a - b));
      // The previews were only for watching: their files are gone, the final image stays.
      for (const p of previews) expect(await images.has(p.image!.hash)).toBe(false);
      expect(await images.has(it.imageHash!)).toBe(true);
    }
  });

  it("emits nothing and passes no progress callback when previews are off", async () => {
    let sawCallback = false;
    const sim = createSimGenerator({ latencyMs: 20, width: 64, height: 64 });
    const watching: ImageGenerator = { name: "watching", generate: (request) => ((sawCallback ||= request.onProgress !== undefined), sim.generate(request)) };
    const { events } = await runWith(watching, 0);
    expect(sawCallback).toBe(false);
    expect(events.some((e) => e.type === "image.preview")).toBe(false);
  });

  it("ignores a generator that keeps reporting after it returned", async () => {
    let report: ((percent: number) => void) | undefined;
    const sim = createSimGenerator({ width: 64, height: 64 });
    const chatty: ImageGenerator = {
      name: "chatty",
      async generate(request) {
        report = (percent) => request.onProgress?.({ percent, preview: null });
        return sim.generate(request);
      },
    };
    const { events } = await runWith(chatty, 1);
    report?.(99);
    await settle();
    expect(events.some((e) => e.type === "image.preview")).toBe(false);
  });
});
