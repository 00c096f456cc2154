import { describe, expect, it } from "vitest";
import { readProvenance } from "../../core/images/provenance.ts";
import { HARD_PROMPT, imageReplies, onlyJobId, startHarness, waitForCard, waitForFinal } from "./harness.ts";

describe("provenance in the images the Slack bot uploads", () => {
  it("every uploaded iteration image carries the job id, iteration, prompt and model names", async () => {
    const { fake, jobs, command } = await startHarness();
    await command(`${HARD_PROMPT} --iterations 2`);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const jobId = onlyJobId(jobs);
    const status = jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    const t = status.job.trajectory;

    const replies = imageReplies(fake, card);
    expect(replies).toHaveLength(2);
    for (const reply of replies) {
      const n = Number(/^\*Iteration (\d+)/.exec(reply.text)?.[1]);
      const iteration = t.iterations.find((it) => it.n === n)!;
      const uploaded = fake.files.get(reply.files[0]!.id)?.bytes;
      if (!uploaded) throw new Error(`no bytes uploaded for iteration ${n}`);
      expect(readProvenance(new Uint8Array(uploaded))).toEqual({
        ok: true,
        contentType: "image/png",
        provenance: { jobId, iteration: String(n), prompt: iteration.prompt, request: HARD_PROMPT, mllm: "sim", generator: "sim", surface: "slack", sourceSha256: iteration.imageHash },
      });
    }
  });
});
