import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { runJob } from "../../core/agent/run-job.ts";
import { batchVerifierMessages, verifierMessages } from "../../core/agent/prompts.ts";
import { totalUsage } from "../../core/agent/usage.ts";
import { createTrajectory, type LoopModes, type Trajectory } from "../../core/memory/trajectory.ts";
import { standaloneAgentDeps } from "../support/standalone-agent-deps.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { startSimServer, type SimServer } from "../../servers/sim/http-server.ts";
import { BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { answer, createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { IMAGE_TOKENS, SimPrefixCache } from "../../servers/sim/sim-usage.ts";
import type { MllmMessage } from "../../core/models/ports.ts";

const skillsDir = join(import.meta.dirname, "../../skills");
const generator = createSimGenerator({ width: 128, height: 128 });
const servers: SimServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function runOnSim(prompt: string, seed: number, modes: LoopModes): Promise<Trajectory> {
  return runJob(createTrajectory(`sim-${seed}`, { prompt, skill: "auto", maxIterations: 5, seed }, new Date(0), modes), standaloneAgentDeps({ mllm: createSimMllm(), generator, skills: await loadSkillLibrary(skillsDir) }));
}

const decisions = (t: Trajectory) => ({
  best: t.best,
  stopReason: t.stopReason,
  iterations: t.iterations.map((it) => ({ prompt: it.prompt, thought: it.thought, verdicts: it.verdicts, experience: it.experience })),
});

describe("the sim in every loop mode", () => {
  it("batch-verifies an image exactly as it answers each question alone", async () => {
    const png = await generator.generate({ prompt: 'two red cubes left of a blue sphere, a sign that says "OPEN"', seed: 3 });
    const questions = ["Are there exactly two cubes?", "Are the cubes red?", "Is the sphere blue?", 'Does the sign say "OPEN"?', "Is there a dog?"];
    const batch = answer(batchVerifierMessages(png, questions)).content.split("\n");
    expect(batch).toEqual(questions.map((q, i) => `${i + 1}. ${answer(verifierMessages(png, q)).content}`));
    expect(batch.some((line) => line.includes(". no,"))).toBe(true);
  });

  it("makes the same decisions in batch and fast mode as in the reference loop", async () => {
    const prompts = BENCH_PROMPTS.slice(0, 8);
    let refined = 0;
    for (const [index, prompt] of prompts.entries()) {
      const reference = await runOnSim(prompt, 100 + index, { verify: "per-question", loop: "full" });
      const batch = await runOnSim(prompt, 100 + index, { verify: "batch", loop: "full" });
      const fast = await runOnSim(prompt, 100 + index, { verify: "batch", loop: "fast" });
      expect(decisions(batch)).toEqual(decisions(reference));
      expect(decisions(fast)).toEqual(decisions(reference));
      if (reference.iterations.length > 1) refined++;
      // Fewer images go to the model when one call sees all questions and one call refines.
      expect(totalUsage(fast).images).toBeLessThan(totalUsage(reference).images + (reference.iterations.length === 1 ? 1 : 0));
    }
    // The comparison means something only if some jobs needed the refiners.
    expect(refined).toBeGreaterThan(0);
  });

  it("reports usage of its own in process: text at 4 characters a token, a fixed cost per image", async () => {
    const png = await generator.generate({ prompt: "a red cube", seed: 1 });
    const messages = verifierMessages(png, "Is the cube red?");
    const reply = await createSimMllm().chat({ messages });
    const system = messages[0]!.content as string;
    const question = (messages[1]!.content as Array<{ type: string; text?: string }>)[1]!.text!;
    expect(reply.usage).toEqual({
      inputTokens: Math.ceil(system.length / 4) + IMAGE_TOKENS + Math.ceil(question.length / 4),
      outputTokens: Math.ceil(reply.content.length / 4),
      cachedInputTokens: 0,
      reasoningTokens: null,
    });
  });

  it("reports the same usage on its HTTP wire, in OpenAI's shape", async () => {
    const server = await startSimServer({ port: 0, generator });
    servers.push(server);
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    const png = await generator.generate({ prompt: "a red cube", seed: 1 });
    const messages = batchVerifierMessages(png, ["Is there a cube?", "Is the cube red?"]);
    const expected = (await createSimMllm().chat({ messages })).usage!;
    const completion = await client.chat.completions.create({
      model: "gems-sim",
      messages: [
        { role: "system", content: messages[0]!.content as string },
        {
          role: "user",
          content: [
            { type: "text", text: ((messages[1]!.content as Array<{ type: string; text?: string }>)[0]!).text! },
            { type: "image_url", image_url: { url: `data:image/png;base64,${Buffer.from(png).toString("base64")}` } },
          ],
        },
      ],
    });
    expect(completion.usage).toMatchObject({
      prompt_tokens: expected.inputTokens,
      completion_tokens: expected.outputTokens,
      total_tokens: expected.inputTokens + expected.outputTokens,
      prompt_tokens_details: { cached_tokens: 0 },
    });
    expect(expected.inputTokens).toBeGreaterThan(IMAGE_TOKENS);
  });
});

describe("the sim's prefix cache", () => {
  const text = (system: string, user: string): MllmMessage[] => [
    { role: "system", content: system },
    { role: "user", content: user },
  ];
  const long = "x".repeat(640);

  it("serves a repeated request whole, and nothing of one whose opening changed", () => {
    const cache = new SimPrefixCache();
    expect(cache.cachedTokens(text(long, "a question"))).toBe(0);
    expect(cache.cachedTokens(text(long, "a question"))).toBe(160 + 3);
    expect(cache.cachedTokens(text(`y${long}`, "a question"))).toBe(0);
  });

  it("serves the blocks before the first difference", () => {
    const cache = new SimPrefixCache();
    cache.cachedTokens(text(long, `${"q".repeat(128)}first`));
    // The system prompt (160 tokens) and the two whole blocks the user texts share (32 tokens).
    expect(cache.cachedTokens(text(long, `${"q".repeat(128)}second`))).toBe(160 + 32);
  });

  it("lets each role of the loop reuse what the iteration before it sent", async () => {
    const prompt = BENCH_PROMPTS.find((p) => p.length > 60) ?? BENCH_PROMPTS[0]!;
    for (const modes of [
      { verify: "per-question", loop: "full" },
      { verify: "batch", loop: "fast" },
    ] as const) {
      let checked = 0;
      for (let seed = 1; seed <= 12 && checked === 0; seed++) {
        const t = await runOnSim(prompt, seed, modes);
        if (t.iterations.length < 3) continue;
        checked++;
        const later = t.usage.filter((u) => u.n >= 2 && u.role !== "verifier");
        expect(later.length).toBeGreaterThan(0);
        for (const u of later) expect({ role: u.role, n: u.n, isCached: u.cachedInputTokens > 0 }).toEqual({ role: u.role, n: u.n, isCached: true });
        // The full refiner's second call reuses the first attempt's text and image.
        for (const u of t.usage.filter((u) => u.role === "refiner" && u.n >= 2)) expect(u.cachedInputTokens).toBeGreaterThan(IMAGE_TOKENS);
        // The per-question verifier reuses the image across the questions of one iteration.
        for (const u of t.usage.filter((u) => u.role === "verifier" && u.calls > 1)) expect(u.cachedInputTokens).toBeGreaterThanOrEqual((u.calls - 1) * IMAGE_TOKENS);
        expect(t.usage.every((u) => u.reportedCalls === u.calls)).toBe(true);
      }
      expect(checked).toBe(1);
    }
  });
});
