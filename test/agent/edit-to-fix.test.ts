import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nextStep, runJob } from "../../core/agent/run-job.ts";
import type { AgentEvent } from "../../core/agent/events.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { createTrajectory, type LoopModes, type Trajectory } from "../../core/memory/trajectory.ts";
import { parseStoredTrajectory } from "../../core/memory/trajectory-schema.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator, ImageRequest } from "../../core/models/ports.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import type { Mllm } from "../../core/models/ports.ts";
import { roleOf } from "../../core/agent/prompts.ts";
import { recordingGenerator } from "../support/recording-generator.ts";

const skillsDir = join(import.meta.dirname, "../../skills");
const EDIT: LoopModes = { verify: "per-question", loop: "full", refine: "edit" };
// Fails some checks on the first image at this seed (the sim draws about 3 claims reliably).
const PROMPT = 'a red cube left of a blue sphere, a green cone on the right, two yellow stars, a sign that says "OPEN"';

async function run(t: Trajectory, generator: ImageGenerator, images: ImageStore = createInMemoryImageStore()) {
  const events: AgentEvent[] = [];
  const result = await runJob(t, {
    mllm: createSimMllm(),
    generator,
    skills: await loadSkillLibrary(skillsDir),
    images,
    commit: async (_t, e) => {
      events.push(...e);
    },
    verifyConcurrency: 4,
    logger: silentLogger,
  });
  return { result, events, images };
}

const job = (seed: number, modes: LoopModes = EDIT, extra: { referenceImages?: string[] } = {}) =>
  createTrajectory(`edit-${seed}`, { prompt: PROMPT, skill: "none", maxIterations: 5, seed, ...extra }, new Date(0), modes);

describe("edit-to-fix", () => {
  it("edits the best image so far with an instruction for the failed requirements only", async () => {
    const { generator, requests } = recordingGenerator(createSimGenerator({ width: 128, height: 128 }));
    const { result, events, images } = await run(job(7), generator);
    const first = result.iterations[0]!;
    expect(first.passed).toBeLessThan(first.total);
    const second = result.iterations[1]!;
    expect(second.edit).toEqual({ fromN: 1, instruction: expect.stringContaining("Change only this:") });
    // The generator got iteration 1's image to edit, byte for byte.
    expect(requests[1]!.edit!.image).toEqual(await images.get(first.imageHash!));
    expect(events).toContainEqual(expect.objectContaining({ type: "iteration.started", n: 2, edit: second.edit }));
    // What passed in the first image still passes in the edited one.
    const passedBefore = first.verdicts.filter((v) => v.passed).map((v) => v.requirementId);
    const after = new Map(second.verdicts.map((v) => [v.requirementId, v.passed]));
    expect(passedBefore.every((id) => after.get(id) === true)).toBe(true);
    expect(result.stopReason).toBe("all-passed");
  });

  it("falls back to a full redraw after an edit that passes fewer checks than the image it started from", async () => {
    const sim = createSimGenerator({ width: 128, height: 128 });
    const requests: ImageRequest[] = [];
    // An editor that breaks things: every edit comes back as a drawing of almost nothing.
    const clumsy: ImageGenerator = {
      name: "clumsy-editor",
      capabilities: { references: false, edit: true },
      generate: (request) => {
        requests.push(request);
        return request.edit ? sim.generate({ prompt: "a brown box", seed: request.seed }) : sim.generate(request);
      },
    };
    const { result } = await run(job(7), clumsy);
    const [first, second, third] = result.iterations;
    expect(second!.edit?.fromN).toBe(1);
    expect(second!.passed).toBeLessThan(first!.passed);
    // The next attempt redraws from a refined prompt instead of editing again.
    expect(third!.edit).toBeUndefined();
    expect(requests[2]!.edit).toBeUndefined();
    expect(third!.prompt).not.toBe(first!.prompt);
    // The worse edit never becomes the best image.
    expect(result.best!.n).not.toBe(2);
  });

  it("redraws every time, and says so once, when the generator cannot edit", async () => {
    const { generator, requests } = recordingGenerator(createSimGenerator({ width: 128, height: 128 }), { references: true, edit: false });
    const { result, events } = await run(job(7), generator);
    expect(result.iterations.length).toBeGreaterThan(1);
    expect(result.iterations.every((it) => it.edit === undefined)).toBe(true);
    expect(requests.every((r) => r.edit === undefined)).toBe(true);
    const notes = events.filter((e) => e.type === "references");
    expect(notes).toEqual([expect.objectContaining({ note: expect.stringContaining("cannot edit images, so each fix is a full redraw") })]);
  });

  it("edits in the fast loop and with batch verification too", async () => {
    const { generator } = recordingGenerator(createSimGenerator({ width: 128, height: 128 }));
    const { result } = await run(job(7, { verify: "batch", loop: "fast", refine: "edit" }), generator);
    expect(result.iterations[1]!.edit?.fromN).toBe(1);
    expect(result.iterations[0]!.experience).not.toBeNull();
    expect(result.stopReason).toBe("all-passed");
  });

  it("resumes a planned edit from memory: the stored next prompt carries it", async () => {
    const t = job(7);
    t.plan = { skill: null, prompt: PROMPT, why: null };
    t.requirements = [{ id: 1, question: "Is there a red cube?", source: "prompt" }];
    t.iterations = [
      { n: 1, prompt: PROMPT, thought: null, imageHash: "a".repeat(64), verdicts: [{ requirementId: 1, passed: false, answer: "no" }], passed: 0, total: 1, isVerified: true, experience: "x", startedAt: "t" },
    ];
    t.best = { n: 1, imageHash: "a".repeat(64), passed: 0, total: 1 };
    expect(nextStep(t, { references: false, edit: true }).kind).toBe("edit");
    expect(nextStep(t, { references: false, edit: false }).kind).toBe("refine");
    t.nextPrompt = { prompt: PROMPT, thought: null, edit: { fromN: 1, instruction: "make the cube red" } };
    const stored = parseStoredTrajectory(t.jobId, JSON.parse(JSON.stringify(t)));
    expect(stored.nextPrompt?.edit).toEqual({ fromN: 1, instruction: "make the cube red" });
    expect(nextStep(stored, { references: false, edit: true }).kind).toBe("start");
  });
});

describe("an editor that writes no instruction", () => {
  it.each([
    ["full", { verify: "per-question", loop: "full", refine: "edit" } as LoopModes],
    ["fast", { verify: "batch", loop: "fast", refine: "edit" } as LoopModes],
  ])("leads to a redraw in the %s loop, never to an endless edit step", async (_name, modes) => {
    const sim = createSimMllm();
    let editorCalls = 0;
    const mute: Mllm = {
      name: "sim-without-editor",
      chat: (request) => {
        if (roleOf(request.messages) === "editor") {
          editorCalls++;
          return Promise.resolve({ content: "I would rather not say.", reasoning: null });
        }
        return sim.chat(request);
      },
    };
    const events: AgentEvent[] = [];
    const result = await runJob(job(7, modes), {
      mllm: mute,
      generator: createSimGenerator({ width: 128, height: 128 }),
      skills: await loadSkillLibrary(skillsDir),
      images: createInMemoryImageStore(),
      commit: async (_t, e) => void events.push(...e),
      verifyConcurrency: 4,
      logger: silentLogger,
    });
    expect(result.iterations.length).toBeGreaterThan(1);
    expect(result.iterations.every((it) => it.edit === undefined)).toBe(true);
    // One editor call per failed iteration, no more: the step is decided once.
    expect(editorCalls).toBe(result.iterations.filter((it) => it.isVerified && it.passed < it.total).length - (result.stopReason === "max-iterations" ? 1 : 0));
    expect(events.filter((e) => e.type === "prompt.refined").length).toBeGreaterThan(0);
  });
});

describe("reference images", () => {
  it("the planner, decomposer, verifier and generator see them, and the job keeps the reference's objects and layout", async () => {
    const images = createInMemoryImageStore();
    const sim = createSimGenerator({ width: 128, height: 128 });
    const referencePng = await sim.generate({ prompt: "a purple heart left of an orange car", seed: 1 });
    const hash = await images.put(referencePng);
    const { generator, requests } = recordingGenerator(sim);
    const t = createTrajectory("ref-1", { prompt: "a red cube at the top", skill: "none", maxIterations: 3, seed: 2, referenceImages: [hash] }, new Date(0), EDIT);
    const { result, events } = await run(t, generator, images);
    const question = result.requirements!.find((r) => r.question.includes("reference image 1"));
    expect(question).toBeDefined();
    expect(requests[0]!.images).toEqual([referencePng]);
    const verdict = result.iterations[0]!.verdicts.find((v) => v.requirementId === question!.id)!;
    expect(verdict.passed).toBe(true);
    expect(events).toContainEqual({ type: "references", images: [{ hash }], isUsedByGenerator: true, note: null });
  });

  it("a generator that takes no images says so once, draws from text, and the keep-layout check fails honestly", async () => {
    const images = createInMemoryImageStore();
    const sim = createSimGenerator({ width: 128, height: 128 });
    const hash = await images.put(await sim.generate({ prompt: "a purple heart left of an orange car", seed: 1 }));
    const { generator, requests } = recordingGenerator(createSimGenerator({ width: 128, height: 128, capabilities: { references: false, edit: false } }));
    const t = createTrajectory("ref-2", { prompt: "a red cube", skill: "none", maxIterations: 2, seed: 2, referenceImages: [hash] }, new Date(0), EDIT);
    const { result, events } = await run(t, generator, images);
    const notes = events.filter((e) => e.type === "references");
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ isUsedByGenerator: false, note: expect.stringContaining("takes no reference images") });
    expect(requests.every((r) => r.images === undefined)).toBe(true);
    expect(result.iterations[0]!.passed).toBeLessThan(result.iterations[0]!.total);
    expect(result.status).toBe("done");
  });

  it("loads a record written before references and refine modes existed", () => {
    const old = JSON.parse(JSON.stringify(createTrajectory("old", { prompt: "a cube", skill: "auto", maxIterations: 2 }, new Date(0))));
    delete old.modes;
    const loaded = parseStoredTrajectory("old", old);
    expect(loaded.request.referenceImages).toBeUndefined();
    expect(loaded.modes.refine).toBeUndefined();
    expect(nextStep(loaded, { references: true, edit: true }).kind).toBe("prepare");
  });
});
