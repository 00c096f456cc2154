/**
 * The cheaper loop (GEMS_VERIFY_MODE=batch, GEMS_LOOP=fast) against the reference loop: the same
 * scripted scenarios, at the wire, must make the same decisions in every mode.
 */
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { runJob, type AgentDeps, type FeedbackInput, type RunControls } from "../../core/agent/run-job.ts";
import type { AgentEvent } from "../../core/agent/events.ts";
import { createTrajectory, type JobRequest, type LoopModes, type Trajectory } from "../../core/memory/trajectory.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { silentLogger } from "../../core/logger.ts";
import { chatCompletion, openAiError } from "../fakes/openai-server.ts";
import { fastApiError, pngReply } from "../fakes/gems-generator-server.ts";
import { attemptPng, shinyCubeFeedbackScript, startScriptedGenerator, startScriptedMllm, verifierView, type ChatCall, type RoleScript } from "./role-scripted-servers.ts";

const skillsDir = join(import.meta.dirname, "../../skills");
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const MODES: Record<string, LoopModes> = {
  "per-question + full": { verify: "per-question", loop: "full" },
  "batch + full": { verify: "batch", loop: "full" },
  "batch + fast": { verify: "batch", loop: "fast" },
};

interface Scenario {
  /** Built afresh for every run, so scripts that keep state (an inbox) start clean. */
  make(): { script: RoleScript; generator?: Parameters<typeof startScriptedGenerator>[0]; inbox?: FeedbackInput[] };
  request?: Partial<JobRequest>;
}

interface ModeRun {
  result: Trajectory;
  events: AgentEvent[];
  mllm: Awaited<ReturnType<typeof startScriptedMllm>>;
  generator: Awaited<ReturnType<typeof startScriptedGenerator>>;
}

async function runIn(
  modes: LoopModes,
  scenario: Scenario,
  options: { start?: Trajectory; images?: ImageStore; commitHook?: (t: Trajectory) => void; reuse?: Pick<ModeRun, "mllm" | "generator"> } = {},
): Promise<ModeRun> {
  const made = scenario.make();
  const mllm = options.reuse?.mllm ?? (await startScriptedMllm(made.script));
  const generator = options.reuse?.generator ?? (await startScriptedGenerator(made.generator));
  if (!options.reuse) closers.push(mllm.close, generator.close);
  const events: AgentEvent[] = [];
  const deps: AgentDeps = {
    mllm: mllm.mllm,
    generator: generator.generator,
    skills: await loadSkillLibrary(skillsDir),
    images: options.images ?? createInMemoryImageStore(),
    commit: async (t, batch) => {
      options.commitHook?.(t);
      events.push(...batch);
    },
    verifyConcurrency: 4,
    logger: silentLogger,
  };
  const controls: RunControls = made.inbox ? { drainFeedback: () => made.inbox!.splice(0) } : {};
  const trajectory =
    options.start ??
    createTrajectory("job-modes", { prompt: "a red cube", skill: "none", maxIterations: 5, seed: 7, ...scenario.request }, new Date(0), modes);
  const result = await runJob(trajectory, deps, controls);
  return { result, events, mllm, generator };
}

/** What the loop decided: what it kept in memory, what it refined to, when and why it stopped. */
function decisions(t: Trajectory) {
  // Each run has its own loopback servers; their ports show up in error messages.
  return JSON.parse(JSON.stringify(decisionsOf(t)).replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>")) as ReturnType<typeof decisionsOf>;
}

function decisionsOf(t: Trajectory) {
  return {
    status: t.status,
    stopReason: t.stopReason,
    error: t.error,
    best: t.best,
    requirements: t.requirements,
    feedback: t.feedback.map(({ addedAt: _addedAt, ...entry }) => entry),
    iterations: t.iterations.map(({ startedAt: _startedAt, ...it }) => it),
  };
}

/** Verifier that passes "red" only from attempt `fixedAt` on, and everything else always. */
const redFrom = (fixedAt: number) => (call: ChatCall) => {
  const { attempt, question } = verifierView(call);
  return question.includes("red") && attempt < fixedAt ? "No, the cube is green." : "Yes, it is.";
};

const SCENARIOS: Record<string, Scenario> = {
  "refines until every requirement passes": { make: () => ({ script: { verifier: redFrom(2) } }) },
  "refines twice, keeping each experience": { make: () => ({ script: { verifier: redFrom(3) } }) },
  "returns the first of two equally good images after the last iteration": {
    request: { maxIterations: 4 },
    make: () => ({
      script: {
        decomposer: () => '{"questions": ["Is there a cube?", "Is the cube red?", "Is it on a table?"]}',
        verifier: (call) => {
          const { attempt, question } = verifierView(call);
          const passes = (attempt === 2 || attempt === 3) && !question.includes("table");
          return passes || question.includes("Is there") ? "yes" : "no";
        },
      },
    }),
  },
  "keeps the reasoning_content of the refiner as the next thought": {
    make: () => ({
      script: { verifier: redFrom(2), refiner: () => chatCompletion("PROMPT: a crimson cube", { reasoning_content: "red was read as green" }) },
    }),
  },
  "keeps the old prompt when the refiner returns nothing usable": {
    make: () => ({ script: { verifier: redFrom(2), refiner: () => "PROMPT:" } }),
  },
  "writes a note of its own when the compressor returns nothing": {
    make: () => ({ script: { verifier: redFrom(2), compressor: () => "" } }),
  },
  "counts unsure and empty answers as failures with their reasons": {
    request: { maxIterations: 1 },
    make: () => ({ script: { verifier: (call) => (verifierView(call).question.includes("red") ? "Not sure; the lighting is odd." : "") } }),
  },
  "turns feedback into a checked requirement": {
    make: shinyCubeFeedbackScript,
  },
  "retires the question that feedback replaces": {
    make: () => ({
      inbox: [{ author: "bo", text: "make the cube blue instead" }],
      script: {
        feedback: () => '{"questions": ["Is the cube blue?"], "replaces": [2]}',
        verifier: (call) => (verifierView(call).question.includes("red") ? "no" : "yes"),
      },
    }),
  },
  "fails cleanly when the generator gives up, keeping the best image": {
    make: () => ({
      script: { verifier: redFrom(9) },
      generator: (_call, index) => (index >= 2 ? fastApiError(500, "CUDA out of memory") : undefined),
    }),
  },
};

describe("every loop mode makes the same decisions on scripted replies", () => {
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    it(name, async () => {
      const runs: Record<string, ModeRun> = {};
      for (const [label, modes] of Object.entries(MODES)) runs[label] = await runIn(modes, scenario);
      const reference = decisions(runs["per-question + full"]!.result);
      expect(reference.iterations.length).toBeGreaterThan(0);
      for (const label of ["batch + full", "batch + fast"]) {
        expect({ mode: label, ...decisions(runs[label]!.result) }).toEqual({ mode: label, ...reference });
        expect(runs[label]!.result.best?.imageHash).toBe(runs["per-question + full"]!.result.best?.imageHash);
      }
      // The events come in the same order in every mode. The fast loop announces the experience
      // and the prompt together, so feedback that arrives after them makes one more prompt.refined.
      const steps = (run: ModeRun) => run.events.filter((e) => e.type !== "plan.done" && e.type !== "prompt.refined").map((e) => e.type);
      const lastPrompts = (run: ModeRun) =>
        Object.fromEntries(run.events.flatMap((e) => (e.type === "prompt.refined" ? [[e.n, e.prompt]] : [])));
      for (const label of ["batch + full", "batch + fast"]) {
        expect(steps(runs[label]!)).toEqual(steps(runs["per-question + full"]!));
        expect(lastPrompts(runs[label]!)).toEqual(lastPrompts(runs["per-question + full"]!));
      }
    });
  }
});

describe("what each mode costs", () => {
  it("asks once per image in batch mode and once per iteration for experience and prompt in fast mode", async () => {
    const scenario = SCENARIOS["refines twice, keeping each experience"]!;
    const reference = await runIn(MODES["per-question + full"]!, scenario);
    const batch = await runIn(MODES["batch + full"]!, scenario);
    const fast = await runIn(MODES["batch + fast"]!, scenario);
    expect(reference.result.iterations).toHaveLength(3);

    expect(reference.mllm.callsOf("verifier")).toHaveLength(6);
    expect(batch.mllm.callsOf("verifier")).toHaveLength(0);
    expect(batch.mllm.callsOf("batch-verifier").map((c) => c.attempts)).toEqual([[1], [2], [3]]);
    expect(batch.mllm.callsOf("compressor")).toHaveLength(2);
    expect(batch.mllm.callsOf("refiner")).toHaveLength(2);

    expect(fast.mllm.callsOf("compressor")).toHaveLength(0);
    expect(fast.mllm.callsOf("refiner")).toHaveLength(0);
    const revisions = fast.mllm.callsOf("fast-refiner");
    // One image per call: the attempt the experience is about.
    expect(revisions.map((c) => c.attempts)).toEqual([[1], [2]]);
    expect(revisions[1]?.text).toContain("## Attempt 1\nPrompt: a red cube");
    expect(revisions[1]?.text).toContain("Experience: experience 1");
    expect(revisions[1]?.text).toContain("## Thought before attempt 2\nthinking about attempt 1");
    expect(fast.mllm.calls.length).toBeLessThan(batch.mllm.calls.length);
  });

  it("records calls and images per iteration and role in the trajectory", async () => {
    const scenario = SCENARIOS["refines until every requirement passes"]!;
    const reference = await runIn(MODES["per-question + full"]!, scenario);
    const fast = await runIn(MODES["batch + fast"]!, scenario);
    const view = (t: Trajectory) => t.usage.map(({ n, role, calls, images }) => ({ n, role, calls, images }));
    expect(view(reference.result)).toEqual([
      { n: 0, role: "decomposer", calls: 1, images: 0 },
      { n: 1, role: "verifier", calls: 2, images: 2 },
      { n: 1, role: "compressor", calls: 1, images: 1 },
      { n: 1, role: "refiner", calls: 1, images: 1 },
      { n: 2, role: "verifier", calls: 2, images: 2 },
    ]);
    expect(view(fast.result)).toEqual([
      { n: 0, role: "decomposer", calls: 1, images: 0 },
      { n: 1, role: "batch-verifier", calls: 1, images: 1 },
      { n: 1, role: "fast-refiner", calls: 1, images: 1 },
      { n: 2, role: "batch-verifier", calls: 1, images: 1 },
    ]);
  });

  it("shows the modes in the plan", async () => {
    const fast = await runIn(MODES["batch + fast"]!, SCENARIOS["refines until every requirement passes"]!);
    expect(fast.events).toContainEqual(expect.objectContaining({ type: "plan.done", modes: { verify: "batch", loop: "fast" } }));
    expect(fast.result.modes).toEqual({ verify: "batch", loop: "fast" });
  });
});

describe("batch verification falls back to asking one question at a time", () => {
  const threeQuestions = '{"questions": ["Is there a cube?", "Is the cube red?", "Is it on a table?"]}';

  it("asks again on its own only a question the batch reply left unreadable", async () => {
    const run = await runIn(MODES["batch + full"]!, {
      request: { maxIterations: 1 },
      make: () => ({
        script: {
          decomposer: () => threeQuestions,
          "batch-verifier": () => "Here is what I see.\n3) No, there is no table.\n**1.** Yes, a cube.\n2. Hard to say.",
          verifier: () => "Yes, it is red.",
        },
      }),
    });
    expect(run.mllm.callsOf("verifier").map((c) => verifierView(c).question)).toEqual(["Is the cube red?"]);
    expect(run.result.iterations[0]?.verdicts).toEqual([
      { requirementId: 1, passed: true, answer: "Yes, a cube." },
      { requirementId: 2, passed: true, answer: "Yes, it is red." },
      { requirementId: 3, passed: false, answer: "No, there is no table.", failure: "there is no table." },
    ]);
  });

  it("asks every question on its own when the batch call fails", async () => {
    const run = await runIn(MODES["batch + full"]!, {
      request: { maxIterations: 1 },
      make: () => ({
        script: {
          decomposer: () => threeQuestions,
          "batch-verifier": () => openAiError(400, "This model's maximum context length is 4096 tokens.", { code: "context_length_exceeded" }),
          verifier: (call) => (verifierView(call).question.includes("table") ? "no" : "yes"),
        },
      }),
    });
    expect(run.mllm.callsOf("batch-verifier")).toHaveLength(1);
    expect(run.mllm.callsOf("verifier")).toHaveLength(3);
    expect(run.result.iterations[0]).toMatchObject({ passed: 2, total: 3 });
  });

  it("fails the job with a clear reason when the MLLM answers nothing at all", async () => {
    const run = await runIn(MODES["batch + full"]!, {
      make: () => ({ script: { "batch-verifier": () => openAiError(503, "Service Unavailable"), verifier: () => openAiError(503, "Service Unavailable") } }),
    });
    expect(run.result.status).toBe("failed");
    expect(run.result.error).toMatch(/^The MLLM could not verify the image: /);
  });
});

describe("resuming a fast-mode job", () => {
  it("repeats no step wherever the process stopped", async () => {
    // Replies depend only on what is asked, never on how often, so a repeated call would show.
    const scenario: Scenario = {
      make: () => ({
        script: { verifier: redFrom(3), compressor: (call) => `experience of attempt ${call.attempts.at(-1)}` },
        // Seeds are 7, 8, 9 for attempts 1, 2, 3: the image depends on the attempt, not on the call count.
        generator: (call) => pngReply(attemptPng(Number(call.seed) - 6)),
      }),
    };
    let commitsInAll = 0;
    const whole = await runIn(MODES["batch + fast"]!, scenario, { commitHook: () => void commitsInAll++ });
    // started, prepare, then 3 × (start, image, verify) with a revision after the first two, done.
    expect(commitsInAll).toBe(14);
    for (let crashAfter = 1; crashAfter < commitsInAll; crashAfter++) {
      const images = createInMemoryImageStore();
      const stored: Trajectory[] = [];
      let commits = 0;
      const first = await startScriptedMllm(scenario.make().script);
      const generator = await startScriptedGenerator(scenario.make().generator);
      closers.push(first.close, generator.close);
      await expect(
        runIn(MODES["batch + fast"]!, scenario, {
          images,
          reuse: { mllm: first, generator },
          commitHook: (t) => {
            if (++commits > crashAfter) throw new Error("simulated crash");
            stored.push(structuredClone(t));
          },
        }),
      ).rejects.toThrow("simulated crash");
      const lastGood = stored.at(-1) as Trajectory;
      const revisionsBefore = first.callsOf("fast-refiner").length;
      const generatedBefore = generator.calls.length;
      const resumed = await runIn(MODES["batch + fast"]!, scenario, { images, start: structuredClone(lastGood), reuse: { mllm: first, generator } });

      expect({ crashAfter, ...decisions(resumed.result) }).toEqual({ crashAfter, ...decisions(whole.result) });
      // Only the steps missing from memory ran again.
      const stillToRevise = 2 - lastGood.iterations.filter((it) => it.experience !== null).length;
      expect({ crashAfter, revisions: first.callsOf("fast-refiner").length - revisionsBefore }).toEqual({ crashAfter, revisions: stillToRevise });
      const imagesStored = lastGood.iterations.filter((it) => it.imageHash !== null).length;
      expect({ crashAfter, generated: generator.calls.length - generatedBefore }).toEqual({ crashAfter, generated: 3 - imagesStored });
      const once = (type: string) => resumed.events.filter((e) => e.type === type).map((e) => (e as { n: number }).n);
      for (const type of ["experience", "prompt.refined"]) {
        const n = once(type);
        expect(new Set(n).size).toBe(n.length);
      }
    }
  });
});

describe("prompts put what repeats first, so servers can reuse their prefix cache", () => {
  /** The request messages as sent, with the part that is new in each call (the last one) left off. */
  const sentBefore = (call: ChatCall, dropLastParts: number) => {
    const [system, user] = call.body.messages as Array<{ content: unknown }>;
    const parts = user!.content as unknown[];
    return JSON.stringify([system, parts.slice(0, parts.length - dropLastParts)]);
  };
  const sent = (call: ChatCall) => JSON.stringify(call.body.messages);

  it("sends each refiner call as the one before it plus the newest attempt", async () => {
    const run = await runIn(MODES["per-question + full"]!, SCENARIOS["refines twice, keeping each experience"]!);
    const [first, second] = run.mllm.callsOf("refiner");
    // Everything but the closing task of the first call opens the second call unchanged.
    const parts = (call: ChatCall) => call.body.messages[1].content as unknown[];
    const kept = parts(first!).length - 1;
    expect(kept).toBeGreaterThan(1);
    expect(second!.body.messages[0]).toEqual(first!.body.messages[0]);
    expect(parts(second!).slice(0, kept)).toEqual(parts(first!).slice(0, kept));
    expect(parts(second!).length).toBeGreaterThan(parts(first!).length);
  });

  it("sends the same questions ahead of each new image in batch verification", async () => {
    const run = await runIn(MODES["batch + full"]!, SCENARIOS["refines twice, keeping each experience"]!);
    const [first, second] = run.mllm.callsOf("batch-verifier");
    expect(sentBefore(second!, 1)).toBe(sentBefore(first!, 1));
    expect(sent(second!)).not.toBe(sent(first!));
  });

  it("sends each fast-refiner call with the earlier attempts ahead of the newest", async () => {
    const run = await runIn(MODES["batch + fast"]!, SCENARIOS["refines twice, keeping each experience"]!);
    const [first, second] = run.mllm.callsOf("fast-refiner");
    const opening = (call: ChatCall) => JSON.stringify((call.body.messages as Array<{ content: unknown }>).map((m) => (Array.isArray(m.content) ? m.content[0] : m.content)));
    expect(opening(second!)).toBe(opening(first!));
    expect(JSON.stringify(second!.body.messages[1].content[1])).toContain("## Attempt 1");
  });
});
