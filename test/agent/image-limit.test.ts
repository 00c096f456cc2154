/**
 * A vLLM server started with `--limit-mm-per-prompt '{"image": 2}'` refuses any request with
 * more images. The refiner, which shows the model every earlier attempt, must then send the
 * latest images that fit instead of failing the job.
 */
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { runJob, type AgentDeps } from "../../core/agent/run-job.ts";
import { TooManyImagesError } from "../../core/errors.ts";
import { createTrajectory } from "../../core/memory/trajectory.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { silentLogger } from "../../core/logger.ts";
import { createOpenAiCompatibleMllm } from "../../core/models/openai-compatible-mllm.ts";
import { imagesIn, vllmImageLimitError } from "../fakes/model-servers.ts";
import { chatCompletion, startFakeOpenAi } from "../fakes/openai-server.ts";
import { startScriptedGenerator, startScriptedMllm, verifierView, type ChatCall } from "./role-scripted-servers.ts";
import { rejectionOf } from "../models/rejection.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const LIMIT = 2;
/** The server refuses a request over the limit the way vLLM does, before any model runs. */
const limited = (answer: (call: ChatCall) => string) => (call: ChatCall) =>
  imagesIn(call.body) > LIMIT ? vllmImageLimitError(LIMIT) : chatCompletion(answer(call));

describe("a server that limits images per request", () => {
  it("reports vLLM's limit as a TooManyImagesError that names the limit and the setting", async () => {
    const server = await startFakeOpenAi({ chat: () => vllmImageLimitError(1) });
    closers.push(server.close);
    const mllm = createOpenAiCompatibleMllm({ baseUrl: server.url, model: "m", maxRetries: 0 });
    const error = await rejectionOf(mllm.chat({ messages: [{ role: "user", content: "hi" }] }));
    expect(error).toBeInstanceOf(TooManyImagesError);
    expect((error as TooManyImagesError).maxImages).toBe(1);
    expect(error.message).toMatch(/takes at most 1 image\(s\) per request .*--limit-mm-per-prompt/);
  });

  it("lets the refiner send the latest images that fit and say how many it left out, and the job goes on", async () => {
    const refinerReply = (call: ChatCall) => `PROMPT: prompt ${call.attempts.length + 1}`;
    const mllm = await startScriptedMllm({
      // Only the 5th image passes "red", so the job needs every attempt.
      verifier: (call) => (verifierView(call).question.includes("red") && verifierView(call).attempt < 5 ? "No, green." : "Yes."),
      refiner: limited(refinerReply),
    });
    const generator = await startScriptedGenerator();
    closers.push(mllm.close, generator.close);
    const deps: AgentDeps = {
      mllm: mllm.mllm,
      generator: generator.generator,
      skills: await loadSkillLibrary(join(import.meta.dirname, "../../skills")),
      images: createInMemoryImageStore(),
      commit: async () => undefined,
      verifyConcurrency: 4,
      logger: silentLogger,
    };
    const result = await runJob(createTrajectory("job-limit", { prompt: "a red cube", skill: "none", maxIterations: 5, seed: 1 }), deps);

    expect(result.status).toBe("done");
    expect(result.iterations).toHaveLength(5);
    const accepted = mllm.callsOf("refiner").filter((call) => imagesIn(call.body) <= LIMIT);
    // Refinements 1 and 2 fit; from the 3rd on, the latest two images go and the rest are named as left out.
    expect(accepted.map((call) => call.attempts)).toEqual([[1], [1, 2], [2, 3], [3, 4]]);
    expect(accepted.at(-1)?.text).toContain("The images of 2 earlier attempt(s) are left out");
    expect(result.iterations[4]?.thought).toContain("left out 2");
    // Each refinement over the limit was refused once (before any model ran) and then sent what fits.
    expect(mllm.callsOf("refiner").filter((call) => imagesIn(call.body) > LIMIT).map((call) => call.attempts.length)).toEqual([3, 4]);
  });
});
