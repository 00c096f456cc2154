import { describe, expect, it } from "vitest";
import {
  compressorMessages,
  decomposerMessages,
  feedbackMessages,
  plannerMessages,
  refinerMessages,
  rewriterMessages,
  verifierMessages,
} from "../../core/agent/prompts.ts";
import { encodePng } from "../../core/images/png.ts";
import type { SkillSummary } from "../../core/skills/types.ts";
import { renderPrompt } from "../../servers/sim/draw-scene.ts";
import { analysePrompt } from "../../servers/sim/scene.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

const EXAMPLE = 'three red cubes on the left of a blue sphere, a sign that says "OPEN"';
const mllm = createSimMllm();
const ask = async (messages: Parameters<typeof mllm.chat>[0]["messages"]) => (await mllm.chat({ messages })).content;
const perfect = renderPrompt(EXAMPLE, { seed: 1, width: 160, height: 160, capacity: 50 }).png;

const SKILLS: SkillSummary[] = [
  { id: "typography", name: "Typography", description: "Use when the request contains quoted text, lettering or a sign. Not for spatial layout." },
  { id: "spatial-layout", name: "Spatial layout", description: "Use when objects must sit left, right, above or below each other." },
  { id: "aesthetic", name: "Aesthetic", description: "Use when the request asks for a beautiful, cinematic picture with good lighting." },
  { id: "creative", name: "Creative", description: "Use for imaginative or surreal ideas. Do not use for plain product shots." },
];

describe("sim MLLM", () => {
  it("plans the skill whose description matches the request, or none", async () => {
    const plan = async (request: string) => JSON.parse(await ask(plannerMessages(request, SKILLS))) as { skill: string | null; why: string };
    expect((await plan(EXAMPLE)).skill).toBe("typography");
    expect((await plan("two cats above a dog")).skill).toBe("spatial-layout");
    expect((await plan("a beautiful cinematic harbour at dusk")).skill).toBe("aesthetic");
    expect((await plan("a surreal dream of melting clocks")).skill).toBe("creative");
    const none = await plan("a red cube");
    expect(none.skill).toBeNull();
    expect(none.why).not.toBe("");
  });

  it("rewrites by appending a clause and keeps every requirement in order", async () => {
    const rewritten = await ask(rewriterMessages(EXAMPLE, "Render lettering large and legible, on a flat surface."));
    expect(rewritten.startsWith(EXAMPLE)).toBe(true);
    expect(rewritten.length).toBeGreaterThan(EXAMPLE.length);
    expect(analysePrompt(rewritten).atoms.map((a) => a.key)).toEqual(analysePrompt(EXAMPLE).atoms.map((a) => a.key));
  });

  it("decomposes a request into clean JSON questions", async () => {
    expect(JSON.parse(await ask(decomposerMessages("two green cats next to a yellow dog")))).toEqual({
      questions: [
        "Are there exactly two cats?",
        "Are the cats green?",
        "Are the cats next to the dog?",
        "Is there exactly one dog?",
        "Is the dog yellow?",
      ],
    });
    expect(JSON.parse(await ask(decomposerMessages("something nice")))).toEqual({ questions: [] });
  });

  it("turns feedback into questions and the checklist numbers they replace", async () => {
    const checklist = [
      { id: 1, question: "Are there exactly three cubes?" },
      { id: 2, question: "Are the cubes red?" },
      { id: 3, question: "Is the sphere blue?" },
    ];
    const reply = await ask(feedbackMessages(EXAMPLE, checklist, { author: "ana: the designer", text: "make the cubes purple" }));
    expect(JSON.parse(reply)).toEqual({ questions: ["Are the cubes purple?"], replaces: [2] });
  });

  it("verifies a sim image by its scene: yes when it holds, no with the reason when not", async () => {
    const verify = (question: string) => ask(verifierMessages(perfect, question));
    expect(await verify("Are there exactly three cubes?")).toMatch(/^yes, there are three cubes/);
    expect(await verify("Are the cubes to the left of the sphere?")).toMatch(/^yes/);
    expect(await verify("Is the sphere red?")).toBe("no, the sphere is blue.");
    expect(await verify("Is the sphere to the left of the cubes?")).toBe("no, the sphere is to the right of the cubes.");
    expect(await verify('Does the image show the text "CLOSED"?')).toBe('no, the text reads "OPEN".');
    expect(await verify("Is there exactly one dog?")).toBe("no, there is no dog.");
  });

  it("answers no for an image that is not from the sim generator", async () => {
    const plain = encodePng({ width: 2, height: 2, rgba: new Uint8Array(16).fill(200) });
    expect(await ask(verifierMessages(plain, "Is the sphere blue?"))).toMatch(/^no, I cannot read this image/);
    expect(await ask(verifierMessages(new Uint8Array([1, 2, 3]), "Is the sphere blue?"))).toMatch(/^no, I cannot read this image/);
  });

  it("falls back to a keyword check for questions it cannot parse, and says it is unsure", async () => {
    expect(await ask(verifierMessages(perfect, "Does the sphere look shiny and blue?"))).toMatch(/^yes, but I am unsure/);
    expect(await ask(verifierMessages(perfect, "Is a dog chasing the sphere?"))).toMatch(/^no, but I am unsure.*dog/);
  });

  it("compresses an attempt into a short experience that names failures and human feedback", async () => {
    const note = await ask(
      compressorMessages({
        request: EXAMPLE,
        prompt: EXAMPLE,
        thought: null,
        png: perfect,
        results: [
          { id: 1, question: "Are there exactly three cubes?", passed: true },
          { id: 2, question: "Is the sphere blue?", passed: false, why: "the sphere is green" },
        ],
        feedback: [{ author: "sam", text: "keep the sign small" }],
        earlierExperiences: [],
      }),
    );
    expect(note.split(/\s+/).length).toBeLessThan(100);
    expect(note).toContain("Is the sphere blue?");
    expect(note).toContain("keep the sign small");
  });

  it("refines by moving failed requirements first and repeating them, with its reasoning returned separately", async () => {
    const checklist = JSON.parse(await ask(decomposerMessages(EXAMPLE))).questions.map((question: string, i: number) => ({ id: i + 1, question }));
    const results = checklist.map((line: { id: number; question: string }) => ({ ...line, passed: line.id !== 5 && line.id !== 6, why: "wrong" }));
    const reply = await mllm.chat({
      messages: refinerMessages({ request: EXAMPLE, checklist, feedback: [], attempts: [{ n: 1, prompt: EXAMPLE, png: perfect, results, experience: null }] }),
    });
    expect(reply.reasoning).toMatch(/missed 2 of 6/);
    const prompt = /^PROMPT: (.+)$/m.exec(reply.content)![1]!;
    expect(prompt).not.toBe(EXAMPLE);
    const before = new Map(analysePrompt(EXAMPLE).atoms.map((a) => [a.key, a]));
    const after = analysePrompt(prompt).atoms;
    expect(after.slice(0, 2).map((a) => a.key).sort()).toEqual(["colour:sphere", "text:open"]);
    for (const atom of after) {
      const expected = atom.key === "colour:sphere" || atom.key === "text:open" ? 2 : 1;
      expect(atom.mentions, atom.key).toBe(expected);
      expect(before.has(atom.key), atom.key).toBe(true);
    }
    expect(after).toHaveLength(before.size);
  });

  it("follows human feedback that changed the checklist when refining", async () => {
    const checklist = [
      { id: 1, question: "Are there exactly three cubes?" },
      { id: 2, question: "Are the cubes purple?" },
    ];
    const results = [{ id: 1, question: checklist[0]!.question, passed: true }];
    const reply = await mllm.chat({
      messages: refinerMessages({
        request: "three red cubes",
        checklist,
        feedback: [{ author: "ana", text: "make the cubes purple" }],
        attempts: [{ n: 1, prompt: "three red cubes", png: perfect, results, experience: null }],
      }),
    });
    expect(reply.reasoning).toContain("make the cubes purple");
    const prompt = /^PROMPT: (.+)$/m.exec(reply.content)![1]!;
    expect(analysePrompt(prompt).spec.objects[0]).toMatchObject({ noun: "cube", count: 3, colour: "purple" });
  });

  it("keeps request requirements a sparse checklist leaves out, unless feedback overrode them", async () => {
    const checklist = [
      { id: 1, question: "Is the sphere blue?" },
      { id: 2, question: 'Does the image show the text "CLOSED"?' },
    ];
    const results = [
      { id: 1, question: checklist[0]!.question, passed: false, why: "the sphere is red" },
      { id: 2, question: checklist[1]!.question, passed: true },
    ];
    const reply = await mllm.chat({
      messages: refinerMessages({ request: EXAMPLE, checklist, feedback: [], attempts: [{ n: 1, prompt: EXAMPLE, png: perfect, results, experience: null }] }),
    });
    const prompt = /^PROMPT: (.+)$/m.exec(reply.content)![1]!;
    const { spec } = analysePrompt(prompt);
    expect(spec.objects.find((o) => o.noun === "cube")).toMatchObject({ count: 3, colour: "red" });
    expect(spec.relations).toEqual([{ subject: "cube", relation: "left of", object: "sphere" }]);
    expect(spec.texts).toEqual(["CLOSED"]);
  });

  it("gives a plain text reply to a conversation with no GEMS role", async () => {
    const reply = await mllm.chat({ messages: [{ role: "user", content: "hello?" }] });
    expect(reply.content).toMatch(/simulated model/);
    expect(reply.reasoning).toBeNull();
  });

  it("stops waiting when the request is aborted", async () => {
    const slow = createSimMllm({ latencyMs: 60_000 });
    const controller = new AbortController();
    const pending = slow.chat({ messages: decomposerMessages(EXAMPLE), signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});
