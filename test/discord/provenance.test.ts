import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fitUploadWithProvenance } from "../../bots/discord/image-fit.ts";
import { readProvenance } from "../../core/images/provenance.ts";
import { readImageInfo } from "../../core/images/sharp-images.ts";
import { noisePng } from "../fakes/png-fixture.ts";
import { EASY_PROMPT, HARD_PROMPT, createJob, finalMessages, iterationMessages, startWorld, waitForFinal, type World } from "./harness.ts";

let world: World;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

describe("provenance in the images the Discord bot posts", () => {
  it("each iteration's upload and the result carry the job id, iteration, prompt and model names", async () => {
    const alice = world.fake.user("alice", "Alice");
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 2 });
    await waitForFinal(world.fake, threadId);
    const status = world.jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    const t = status.job.trajectory;

    const posted = iterationMessages(world.fake, threadId);
    expect(posted).toHaveLength(2);
    for (const message of posted) {
      const n = Number(/^\*\*Iteration (\d+)/.exec(message.content)?.[1]);
      const iteration = t.iterations.find((it) => it.n === n)!;
      expect(message.files).toHaveLength(1);
      expect(readProvenance(new Uint8Array(message.files[0]!.bytes))).toEqual({
        ok: true,
        contentType: "image/png",
        provenance: { jobId, iteration: String(n), prompt: iteration.prompt, request: HARD_PROMPT, mllm: "sim", generator: "sim", surface: "discord", sourceSha256: iteration.imageHash },
      });
    }
    const final = finalMessages(world.fake, threadId)[0]!;
    expect(readProvenance(new Uint8Array(final.files[0]!.bytes))).toMatchObject({ ok: true, provenance: { jobId, iteration: String(t.best!.n), sourceSha256: t.best!.imageHash } });
  });

  it("the prompt in the metadata is the one that drew the image; the request is left out when it is the same", async () => {
    const bob = world.fake.user("bob", "Bob");
    const { threadId } = await createJob(world, bob, { prompt: EASY_PROMPT, iterations: 1 });
    await waitForFinal(world.fake, threadId);
    const [message] = iterationMessages(world.fake, threadId);
    const reading = readProvenance(new Uint8Array(message!.files[0]!.bytes));
    expect(reading.ok && reading.provenance.request).toBe(undefined);
    expect(reading.ok && reading.provenance.prompt).toBe(message!.embeds[0].description);
  });
});

describe("fitting an upload with its provenance", () => {
  const provenance = { jobId: "j1", iteration: 1, prompt: "p".repeat(3000), mllm: "sim", generator: "sim" };

  it("an image that fits only without its metadata is shrunk so that both fit", async () => {
    const png = noisePng(128);
    const untagged = vi.fn();
    const fitted = await fitUploadWithProvenance(png, png.byteLength + 100, provenance, untagged);

    expect(fitted!.bytes.byteLength).toBeLessThanOrEqual(png.byteLength + 100);
    expect((await readImageInfo(fitted!.bytes)).width).toBeLessThan(128);
    expect(readProvenance(fitted!.bytes)).toMatchObject({ ok: true, provenance: { jobId: "j1" } });
    expect(untagged).not.toHaveBeenCalled();
  });

  it("an image whose metadata cannot be written goes up without it, and says why", async () => {
    const png = noisePng(16);
    // A text chunk with a wrong CRC after IHDR: libvips still decodes the pixels, the chunk rewriter refuses.
    const chunk = Uint8Array.from([0, 0, 0, 3, 0x74, 0x45, 0x58, 0x74, 0x61, 0x00, 0x62, 1, 2, 3, 4]);
    const broken = new Uint8Array(png.length + chunk.length);
    broken.set(png.subarray(0, 33));
    broken.set(chunk, 33);
    broken.set(png.subarray(33), 33 + chunk.length);
    const untagged = vi.fn();
    const fitted = await fitUploadWithProvenance(broken, 1_000_000, provenance, untagged);

    expect(fitted?.bytes).toBe(broken);
    expect(untagged).toHaveBeenCalledOnce();
  });
});
