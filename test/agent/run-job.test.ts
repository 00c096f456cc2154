import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { applyFeedback, runJob, type AgentDeps, type FeedbackInput, type RunControls } from "../../core/agent/run-job.ts";
import type { AgentEvent } from "../../core/agent/events.ts";
import { createTrajectory, type JobRequest, type Trajectory } from "../../core/memory/trajectory.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator, Mllm } from "../../core/models/ports.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { chatCompletion, openAiError } from "../fakes/openai-server.ts";
import { fastApiError, pngReply } from "../fakes/gems-generator-server.ts";
import { shinyCubeFeedbackScript, startScriptedGenerator, startScriptedMllm, verifierView, type ChatCall } from "./role-scripted-servers.ts";

const skillsDir = join(import.meta.dirname, "../../skills");
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function models(
  script: Parameters<typeof startScriptedMllm>[0] = {},
  generatorScript?: Parameters<typeof startScriptedGenerator>[0],
  generatorOptions?: Parameters<typeof startScriptedGenerator>[1],
) {
  const mllm = await startScriptedMllm(script);
  const generator = await startScriptedGenerator(generatorScript, generatorOptions);
  closers.push(mllm.close, generator.close);
  return { mllm, generator };
}

interface Run {
  result: Trajectory;
  events: AgentEvent[];
  snapshots: Trajectory[];
  deps: AgentDeps;
}

interface RunSetup {
  request?: Partial<JobRequest>;
  controls?: RunControls;
  /** A stored trajectory to resume instead of a new job. */
  start?: Trajectory;
  /** Runs before each commit is recorded; throwing there simulates a crash. */
  commitHook?: (t: Trajectory, events: AgentEvent[]) => void;
  images?: ImageStore;
}

async function run(mllm: Mllm, generator: ImageGenerator, setup: RunSetup = {}): Promise<Run> {
  const { request = {}, controls = {}, start, commitHook } = setup;
  const events: AgentEvent[] = [];
  const snapshots: Trajectory[] = [];
  const deps: AgentDeps = {
    mllm,
    generator,
    skills: await loadSkillLibrary(skillsDir),
    images: setup.images ?? createInMemoryImageStore(),
    commit: async (t, batch) => {
      commitHook?.(t, batch);
      snapshots.push(structuredClone(t));
      events.push(...batch);
    },
    verifyConcurrency: 4,
    logger: silentLogger,
  };
  const trajectory =
    start ?? createTrajectory("job-test", { prompt: "a red cube", skill: "none", maxIterations: 5, seed: 7, ...request });
  const result = await runJob(trajectory, deps, controls);
  return { result, events, snapshots, deps };
}

/** Verifier that passes "red" only from attempt `fixedAt` on, and everything else always. */
const redFrom = (fixedAt: number) => (call: ChatCall) => {
  const { attempt, question } = verifierView(call);
  return question.includes("red") && attempt < fixedAt ? "No, the cube is green." : "Yes, it is.";
};

describe("the GEMS loop", () => {
  it("refines until every requirement passes and emits each step in order", async () => {
    const { mllm, generator } = await models({ verifier: redFrom(2) });
    const { result, events } = await run(mllm.mllm, generator.generator);

    expect(result.status).toBe("done");
    expect(result.stopReason).toBe("all-passed");
    expect(result.iterations).toHaveLength(2);
    expect(result.best).toMatchObject({ n: 2, passed: 2, total: 2 });
    expect(events.map((e) => e.type)).toEqual([
      "job.started",
      "plan.done",
      "requirements",
      "iteration.started",
      "image.ready",
      "verified",
      "experience",
      "prompt.refined",
      "iteration.started",
      "image.ready",
      "verified",
      "job.done",
    ]);
    expect(generator.calls.map((c) => c.prompt)).toEqual(["a red cube", "prompt 2"]);
  });

  it("sends the refiner every earlier attempt with its image, failed points and experience", async () => {
    const { mllm, generator } = await models({ verifier: redFrom(3) });
    await run(mllm.mllm, generator.generator);

    const refines = mllm.callsOf("refiner");
    expect(refines).toHaveLength(2);
    const second = refines[1] as ChatCall;
    expect(second.attempts).toEqual([1, 2]);
    expect(second.text).toContain("## Attempt 1\nPrompt: a red cube");
    expect(second.text).toContain("[fail] 2. Is the cube red? (the cube is green.)");
    expect(second.text).toContain("Experience: experience 1");
    expect(second.text).toContain("Passed: 1");
  });

  it("gives the compressor the thought that produced the prompt", async () => {
    const { mllm, generator } = await models({ verifier: redFrom(3) });
    const { result } = await run(mllm.mllm, generator.generator);

    expect(result.iterations[1]?.thought).toBe("thinking about attempt 1");
    expect(mllm.callsOf("compressor")[1]?.text).toContain("## Thought before generation\nthinking about attempt 1");
  });

  it("keeps the reasoning_content of the refiner reply as the next thought", async () => {
    const { mllm, generator } = await models({
      verifier: redFrom(2),
      refiner: () => chatCompletion("PROMPT: a crimson cube", { reasoning_content: "red was read as green" }),
    });
    const { result } = await run(mllm.mllm, generator.generator);

    expect(result.iterations[1]).toMatchObject({ prompt: "a crimson cube", thought: "red was read as green" });
  });

  it("returns the image that passed the most questions, the first one on a tie", async () => {
    const { mllm, generator } = await models({
      decomposer: () => '{"questions": ["Is there a cube?", "Is the cube red?", "Is it on a table?"]}',
      verifier: (call) => {
        const { attempt, question } = verifierView(call);
        // Attempts 2 and 3 pass two questions, the others one.
        const passes = (attempt === 2 || attempt === 3) && !question.includes("table");
        return passes || question.includes("Is there") ? "yes" : "no";
      },
    });
    const { result, events } = await run(mllm.mllm, generator.generator, { request: { maxIterations: 4 } });

    expect(result.stopReason).toBe("max-iterations");
    expect(result.iterations).toHaveLength(4);
    expect(result.best).toMatchObject({ n: 2, passed: 2, total: 3 });
    expect(events.at(-1)).toMatchObject({ type: "job.done", reason: "max-iterations", best: { n: 2 } });
    // The last attempt needs no experience or refinement: nothing would use them.
    expect(mllm.callsOf("refiner")).toHaveLength(3);
    expect(mllm.callsOf("compressor")).toHaveLength(3);
  });

  it("plans and decomposes at the same time", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const slow = (answer: string) => () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return { ...chatCompletion(answer), delayMs: 150 };
    };
    const { mllm, generator } = await models({
      planner: slow('{"skill": null, "why": "plain"}'),
      decomposer: slow('{"questions": ["Is there a cube?"]}'),
    });
    // Count completion on the client side: both requests must be open before either answers.
    const counted: Mllm = {
      name: "counted",
      chat: async (request) => {
        try {
          return await mllm.mllm.chat(request);
        } finally {
          inFlight--;
        }
      },
    };
    await run(counted, generator.generator, { request: { skill: "auto" } });
    expect(maxInFlight).toBe(2);
  });

  it("routes to a skill and rewrites the prompt with its instructions", async () => {
    const { mllm, generator } = await models({
      planner: () => 'I pick {"skill": "text-rendering", "why": "there is a sign"}',
      rewriter: () => '"a red cube beside a sign that says OPEN, crisp lettering"',
    });
    const { result, events } = await run(mllm.mllm, generator.generator, { request: { skill: "auto" } });

    expect(result.plan).toEqual({ skill: "text-rendering", prompt: "a red cube beside a sign that says OPEN, crisp lettering", why: "there is a sign" });
    expect(events).toContainEqual({
      type: "plan.done",
      skill: "text-rendering",
      prompt: result.plan?.prompt,
      why: "there is a sign",
      modes: { verify: "per-question", loop: "full" },
    });
    expect(mllm.callsOf("planner")[0]?.text).toContain("- text-rendering: ");
    expect(mllm.callsOf("planner")[0]?.text).not.toContain("## Instructions");
    expect(mllm.callsOf("rewriter")[0]?.text).toContain("## Skill instructions");
    expect(generator.calls[0]?.prompt).toBe("a red cube beside a sign that says OPEN, crisp lettering");
  });

  it("uses the skill the requester forced without asking the planner", async () => {
    const { mllm, generator } = await models();
    const { result } = await run(mllm.mllm, generator.generator, { request: { skill: "spatial-layout" } });
    expect(result.plan?.skill).toBe("spatial-layout");
    expect(mllm.callsOf("planner")).toHaveLength(0);
    expect(mllm.callsOf("rewriter")).toHaveLength(1);
  });

  it("passes a different seed to each attempt", async () => {
    const { mllm, generator } = await models({ verifier: redFrom(3) });
    await run(mllm.mllm, generator.generator);
    expect(generator.calls.map((c) => c.seed)).toEqual(["7", "8", "9"]);
  });
});

describe("model replies that are not what was asked", () => {
  it("reads questions from a decomposer that answers in prose", async () => {
    const { mllm, generator } = await models({
      decomposer: () => "Sure! I would check:\n1. Is there a cube?\n2. Is the cube red?\nLet me know if you need more.",
    });
    const { result } = await run(mllm.mllm, generator.generator);
    expect(result.requirements?.map((r) => r.question)).toEqual(["Is there a cube?", "Is the cube red?"]);
  });

  it("makes one plain generation when the decomposer answers nothing", async () => {
    const { mllm, generator } = await models({ decomposer: () => "" });
    const { result, events } = await run(mllm.mllm, generator.generator);
    expect(result.requirements).toEqual([]);
    expect(result.iterations).toHaveLength(1);
    expect(result.best).toMatchObject({ n: 1, passed: 0, total: 0 });
    expect(mllm.callsOf("verifier")).toHaveLength(0);
    expect(events.at(-1)).toMatchObject({ type: "job.done", reason: "all-passed" });
  });

  it("counts an unsure or empty verifier answer as a failure and keeps the reason", async () => {
    const { mllm, generator } = await models({
      verifier: (call) => (verifierView(call).question.includes("red") ? "Not sure; the lighting is odd." : ""),
    });
    const { result } = await run(mllm.mllm, generator.generator, { request: { maxIterations: 1 } });
    expect(result.iterations[0]?.verdicts).toEqual([
      { requirementId: 1, passed: false, answer: "", failure: "empty answer" },
      { requirementId: 2, passed: false, answer: "Not sure; the lighting is odd.", failure: "unclear answer: Not sure; the lighting is odd." },
    ]);
  });

  it("retries an MLLM that answers 500 once and goes on", async () => {
    const { mllm, generator } = await models({
      decomposer: (call) => (call.index === 0 ? openAiError(500, "The server had an error") : '{"questions": ["Is there a cube?"]}'),
    });
    const { result } = await run(mllm.mllm, generator.generator);
    expect(result.status).toBe("done");
    expect(result.requirements).toHaveLength(1);
    expect(mllm.callsOf("decomposer")).toHaveLength(2);
  });

  it("keeps the old prompt when the refiner returns nothing usable", async () => {
    const { mllm, generator } = await models({ verifier: redFrom(2), refiner: () => "PROMPT:" });
    const { result } = await run(mllm.mllm, generator.generator);
    expect(result.iterations.map((it) => it.prompt)).toEqual(["a red cube", "a red cube"]);
    expect(result.status).toBe("done");
  });

  it("never sends the refiner's analysis to the generator and says so in the experience when it finds no prompt", async () => {
    const analysis = "The cube came out green.\n\nThe colour word should come first, and repeated.";
    const { mllm, generator } = await models({ verifier: redFrom(2), refiner: () => analysis });
    const { result } = await run(mllm.mllm, generator.generator);
    expect(generator.calls.map((call) => call.prompt)).toEqual(["a red cube", "a red cube"]);
    expect(result.iterations[0]?.experience).toMatch(/refiner gave no usable prompt.*reuses this one/);
  });

  it("sends only the labelled prompt to the generator when the refiner writes '**Final prompt:**' and notes", async () => {
    const reply = "Attempt 1 was green.\n\n**Final prompt:** a bright red cube, red cube\n\nNote: colour first.";
    const { mllm, generator } = await models({ verifier: redFrom(2), refiner: () => reply });
    await run(mllm.mllm, generator.generator);
    expect(generator.calls.map((call) => call.prompt)).toEqual(["a red cube", "a bright red cube, red cube"]);
  });

  it("fails with 'ran out of tokens' instead of counting a verdict as a no when the verifier is cut off twice", async () => {
    const cutOff = () => {
      const reply = chatCompletion(null, { reasoning_content: "let me look" });
      (reply.json as any).choices[0].finish_reason = "length";
      return reply;
    };
    const { mllm, generator } = await models({ verifier: cutOff });
    const { result } = await run(mllm.mllm, generator.generator);
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/ran out of tokens/);
    expect(result.iterations[0]?.verdicts).toEqual([]);
    // Asked once, then once more with the larger budget, per question.
    expect(mllm.callsOf("verifier")).toHaveLength(4);
  });

  it("fails with a clear reason and keeps the best image when the MLLM stays down", async () => {
    const { mllm, generator } = await models({
      verifier: redFrom(9),
      compressor: () => openAiError(503, "Service Unavailable"),
    });
    const { result, events } = await run(mllm.mllm, generator.generator);
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/^The MLLM at 127\.0\.0\.1:\d+ did not answer after 3 attempts/);
    expect(result.best).toMatchObject({ n: 1, passed: 1 });
    expect(events.at(-1)).toMatchObject({ type: "job.failed", best: { n: 1 } });
  });
});

describe("generator faults", () => {
  it("retries a generator 500 and goes on", async () => {
    const { mllm, generator } = await models({}, (_call, index) => (index === 0 ? fastApiError(500, "CUDA out of memory") : undefined));
    const { result } = await run(mllm.mllm, generator.generator);
    expect(result.status).toBe("done");
    expect(generator.calls).toHaveLength(2);
  });

  it("fails cleanly and keeps the best image when the generator keeps answering 500", async () => {
    const { mllm, generator } = await models({ verifier: redFrom(9) }, (_call, index) =>
      index >= 1 ? fastApiError(500, "CUDA out of memory") : undefined,
    );
    const { result, events } = await run(mllm.mllm, generator.generator);
    expect(result.status).toBe("failed");
    expect(result.best).toMatchObject({ n: 1, imageHash: result.iterations[0]?.imageHash });
    expect(result.iterations[1]?.error).toMatch(/image generator/i);
    expect(events.slice(-2).map((e) => e.type)).toEqual(["iteration.failed", "job.failed"]);
  });

  it("fails cleanly when the generator times out", async () => {
    const { mllm, generator } = await models({}, () => ({ ...pngReply(), delayMs: 1_000 }), { timeoutMs: 100, maxRetries: 1 });
    const { result } = await run(mllm.mllm, generator.generator);
    expect(result.status).toBe("failed");
    expect(result.error).toMatch(/image generator/i);
    expect(generator.calls).toHaveLength(2);
  });

  it("fails with a specific message when the generator returns bytes that are not an image", async () => {
    const { mllm, generator } = await models({ verifier: redFrom(9) }, (_call, index) =>
      index === 1 ? { headers: { "content-type": "text/html" }, body: "<html>502 Bad Gateway</html>" } : undefined,
    );
    const { result } = await run(mllm.mllm, generator.generator);
    expect(result.status).toBe("failed");
    expect(result.error).toContain("not a PNG, JPEG or WebP image");
    expect(result.best?.n).toBe(1);
  });
});

describe("cancellation", () => {
  it("stops at the next step and returns the best image so far", async () => {
    const controller = new AbortController();
    const { mllm, generator } = await models({
      verifier: redFrom(9),
      compressor: () => {
        controller.abort();
        return "too late";
      },
    });
    const { result, events } = await run(mllm.mllm, generator.generator, { controls: { signal: controller.signal } });
    expect(result.status).toBe("cancelled");
    expect(result.best?.n).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: "job.cancelled", best: { n: 1 } });
    expect(generator.calls).toHaveLength(1);
  });

  it("aborts a model call in flight", async () => {
    const controller = new AbortController();
    const { mllm, generator } = await models({}, () => {
      controller.abort();
      return { ...pngReply(), delayMs: 5_000 };
    });
    const started = Date.now();
    const { result } = await run(mllm.mllm, generator.generator, { controls: { signal: controller.signal } });
    expect(result.status).toBe("cancelled");
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});

describe("human feedback", () => {
  it("becomes a checked requirement and reaches the refiner above the experiences", async () => {
    const { inbox, script } = shinyCubeFeedbackScript();
    const { mllm, generator } = await models(script);
    const { result, events } = await run(mllm.mllm, generator.generator, { controls: { drainFeedback: () => inbox.splice(0) } });

    expect(result.feedback).toMatchObject([{ id: 1, author: "ana", text: "make it shiny", atIteration: 1, requirementIds: [3] }]);
    expect(result.requirements?.[2]).toEqual({ id: 3, question: "Is the cube shiny?", source: "feedback", feedbackId: 1 });
    expect(events).toContainEqual(
      expect.objectContaining({ type: "feedback.added", author: "ana", questions: [{ id: 3, question: "Is the cube shiny?", source: "feedback" }] }),
    );
    const refine = mllm.callsOf("refiner")[0] as ChatCall;
    const feedbackAt = refine.text.indexOf("## Human feedback");
    expect(feedbackAt).toBeGreaterThan(-1);
    expect(refine.text.slice(feedbackAt)).toContain("- ana: make it shiny");
    expect(feedbackAt).toBeLessThan(refine.text.indexOf("Experience:"));
    // The first image was checked against the new question too, so the comparison stays fair.
    expect(result.iterations[0]?.verdicts.map((v) => v.requirementId)).toEqual([1, 2, 3]);
    expect(result.stopReason).toBe("all-passed");
    expect(result.best).toMatchObject({ n: 3, passed: 3, total: 3 });
  });

  it("retires the questions that feedback replaces", async () => {
    const inbox: FeedbackInput[] = [{ author: "bo", text: "make the cube blue instead" }];
    const { mllm, generator } = await models({
      feedback: (call) => {
        expect(call.text).toContain("## Checklist\n1. Is there a cube?\n2. Is the cube red?");
        return '{"questions": ["Is the cube blue?"], "replaces": [2]}';
      },
      verifier: (call) => (verifierView(call).question.includes("red") ? "no" : "yes"),
    });
    const { result, events } = await run(mllm.mllm, generator.generator, { controls: { drainFeedback: () => inbox.splice(0) } });
    expect(result.requirements?.find((r) => r.id === 2)?.retiredByFeedbackId).toBe(1);
    expect(events).toContainEqual(expect.objectContaining({ type: "feedback.added", retired: [{ id: 2, question: "Is the cube red?", source: "prompt" }] }));
    expect(result.stopReason).toBe("all-passed");
    expect(result.best).toMatchObject({ n: 1, passed: 2, total: 2 });
  });

  it("skips feedback that is empty or oversized and finishes the job", async () => {
    const { mllm, generator } = await models();
    const inbox: FeedbackInput[] = [
      { author: "x", text: "  " },
      { author: "y", text: "a".repeat(5000) },
    ];
    const { result } = await run(mllm.mllm, generator.generator, { controls: { drainFeedback: () => inbox.splice(0) } });
    expect(result.status).toBe("done");
    expect(result.feedback).toEqual([]);
    expect(mllm.callsOf("feedback")).toHaveLength(0);
  });
});

describe("applyFeedback", () => {
  it("rejects empty and oversized feedback with a specific message", async () => {
    const { mllm } = await models();
    const t = createTrajectory("job-f", { prompt: "a red cube", skill: "none", maxIterations: 5 });
    const deps = { mllm: mllm.mllm, commit: async () => {} };
    await expect(applyFeedback(t, { author: "x", text: " " }, deps)).rejects.toThrow(
      "The feedback is empty. Say what the next image should change.",
    );
    await expect(applyFeedback(t, { author: "x", text: "a".repeat(5000) }, deps)).rejects.toThrow(
      /^The feedback is 5000 characters long; the limit is 2000/,
    );
    expect(t.feedback).toEqual([]);
  });
});

describe("resuming from memory", () => {
  it("continues a job from its last commit without repeating a step", async () => {
    const { mllm, generator } = await models({ verifier: redFrom(3) });
    let commits = 0;
    const crashAfter = 9; // mid-way through the second iteration
    const images = createInMemoryImageStore();
    const snapshots: Trajectory[] = [];
    await expect(
      run(mllm.mllm, generator.generator, {
        images,
        commitHook: (t) => {
          if (++commits > crashAfter) throw new Error("simulated crash");
          snapshots.push(structuredClone(t));
        },
      }),
    ).rejects.toThrow("simulated crash");
    const lastGood = snapshots.at(-1) as Trajectory;
    expect(lastGood.status).toBe("running");
    const generatedBefore = generator.calls.length;
    const iterationsBefore = lastGood.iterations.length;

    const resumed = await run(mllm.mllm, generator.generator, { images, start: structuredClone(lastGood) });
    expect(resumed.events[0]).toEqual({ type: "job.started", resumed: true, models: { mllm: mllm.mllm.name, generator: generator.generator.name } });
    expect(resumed.result.status).toBe("done");
    expect(resumed.result.iterations.map((it) => it.n)).toEqual([1, 2, 3]);
    // Only the iterations that had not produced an image yet were generated again.
    const imagesBefore = lastGood.iterations.filter((it) => it.imageHash !== null).length;
    expect(generator.calls.length - generatedBefore).toBe(3 - imagesBefore);
    expect(iterationsBefore).toBeGreaterThanOrEqual(1);
  });
});
