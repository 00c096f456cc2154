import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobEvent } from "../../core/agent/events.ts";
import { call, eventsOf, readSse, startStudio, type StudioHarness } from "./studio-harness.ts";

type Preview = Extract<JobEvent, { type: "image.preview" }>;
let harness: StudioHarness;

beforeAll(async () => {
  // Each image takes 600 ms and the sim reports three partials in that time; 1 ms between
  // previews lets every partial through, so the test sees several per iteration.
  harness = await startStudio({ latencyMs: 2, generatorLatencyMs: 600, previewIntervalMs: 1 });
});

afterAll(async () => {
  await harness?.close();
});

async function startJob(): Promise<string> {
  const answer = await call(harness.url, "POST", "/api/jobs", { prompt: "a red cube", iterations: 1, name: "Ada" });
  expect(answer.status).toBe(201);
  return answer.body.jobId as string;
}

describe("live previews in the studio", () => {
  it("streams each preview with its percent and a partial image the studio serves, then the final image", async () => {
    const jobId = await startJob();
    const fetched: Array<{ status: number; type: string | null }> = [];
    const { messages } = await readSse(`${harness.url}/api/jobs/${jobId}/events`, (all) => {
      const events = eventsOf(all);
      const last = events.at(-1);
      // Fetch each preview's image as soon as it arrives, as the page does, while it still exists.
      if (last?.type === "image.preview" && last.image && fetched.length < events.filter((e) => e.type === "image.preview").length) {
        fetched.push({ status: -1, type: null });
        const slot = fetched.length - 1;
        void fetch(`${harness.url}/images/${last.image.hash}.png`).then((r) => (fetched[slot] = { status: r.status, type: r.headers.get("content-type") }));
      }
      return events.some((e) => e.type === "image.ready");
    });
    const events = eventsOf(messages);
    const previews = events.filter((e): e is Preview => e.type === "image.preview");
    // Usually all three partials; a preview already superseded when the stream was written is skipped.
    expect(previews.length).toBeGreaterThanOrEqual(1);
    expect(previews.every((p) => p.n === 1 && p.percent > 0 && p.percent < 100 && p.image !== null)).toBe(true);
    expect(previews.map((p) => p.percent)).toEqual([...previews.map((p) => p.percent)].sort((a, b) => a - b));
    const ready = events.findIndex((e) => e.type === "image.ready");
    expect(events.findLastIndex((e) => e.type === "image.preview")).toBeLessThan(ready);
    await expect.poll(() => fetched.filter((f) => f.status !== -1).length).toBe(fetched.length);
    // The first one is fetched while the image is still being drawn, so it is there.
    expect(fetched[0]).toEqual({ status: 200, type: "image/png" });
  });

  it("replays a finished job without its previews: a reloaded page never shows a stale one", async () => {
    const jobId = await startJob();
    await harness.finished(jobId);
    const stored = harness.jobs.events(jobId);
    if (!stored.ok) throw new Error(stored.message);
    expect(stored.events.some((e) => e.type === "image.preview")).toBe(true);
    const { messages } = await readSse(`${harness.url}/api/jobs/${jobId}/events`, (all) => eventsOf(all).some((e) => e.type === "job.done"));
    const replayed = eventsOf(messages);
    expect(replayed.some((e) => e.type === "image.preview")).toBe(false);
    expect(replayed.map((e) => e.seq)).toEqual(stored.events.filter((e) => e.type !== "image.preview").map((e) => e.seq));
    // The previews' files were deleted with the final image stored; the final one stays.
    for (const event of stored.events) {
      if (event.type === "image.preview" && event.image) expect(await harness.images.has(event.image.hash)).toBe(false);
      if (event.type === "image.ready") expect(await harness.images.has(event.image.hash)).toBe(true);
    }
  });
});
