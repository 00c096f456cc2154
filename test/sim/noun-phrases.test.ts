/**
 * Every noun phrase of a request becomes a requirement, known to the lexicon or not, and an
 * unknown object is drawn as a labelled box, so it passes or fails like any other.
 */
import { describe, expect, it } from "vitest";
import { decomposerMessages, verifierMessages } from "../../core/agent/prompts.ts";
import { decodePng } from "../../core/images/png.ts";
import { renderPrompt } from "../../servers/sim/draw-scene.ts";
import { countsOfSpec, parseQuestion, questionFor } from "../../servers/sim/questions.ts";
import { checkAtom } from "../../servers/sim/rendered-scene.ts";
import { analysePrompt, parseScene } from "../../servers/sim/scene.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { rewriterReply } from "../../servers/sim/sim-text-roles.ts";
import { sceneOfImage } from "../../servers/sim/sim-verifier.ts";

const NOOK = "a cozy reading nook with two orange cats on a green sofa, a window on the left";
const questionsOf = (prompt: string) => {
  const { spec, atoms } = analysePrompt(prompt);
  return atoms.map((a) => questionFor(a.atom, countsOfSpec(spec)));
};

describe("noun phrases", () => {
  it("turns every noun phrase of the reading-nook request into requirements", () => {
    expect(questionsOf(NOOK)).toEqual([
      "Is there exactly one nook?",
      "Are there exactly two cats?",
      "Are the cats orange?",
      "Are the cats on the sofa?",
      "Is there exactly one sofa?",
      "Is the sofa green?",
      "Is there exactly one window?",
      "Is the window on the left side of the image?",
    ]);
  });

  it("takes the last ordinary word of a phrase as its noun, and stops at verbs and places", () => {
    const nouns = (prompt: string) => parseScene(prompt).objects.map((o) => [o.id, o.count, o.colour]);
    expect(nouns("a man walking a dog")).toEqual([
      ["man", 1, null],
      ["dog", 1, null],
    ]);
    expect(nouns("a big red barn and three tall ladders")).toEqual([
      ["barn", 1, "red"],
      ["ladder", 3, null],
    ]);
    expect(nouns("some berries next to two glasses")).toEqual([
      ["berry", null, null],
      ["glass", 2, null],
    ]);
    expect(nouns("help me draw a sleeping cat in the background, a photo")).toEqual([["cat", 1, null]]);
  });

  it("reads describing words separated by commas as part of one phrase, and never as objects", () => {
    expect(parseScene("a cozy, warm reading nook with a plush sofa").objects.map((o) => o.id)).toEqual(["nook", "sofa"]);
    expect(parseScene("a cute puppy and a fluffy kitten").objects.map((o) => o.id)).toEqual(["puppy", "kitten"]);
    expect(parseScene("the cube is big and a sofa, huge").objects.map((o) => o.id)).toEqual(["cube", "sofa"]);
  });

  it("adds no requirement through the rewriter's clauses", () => {
    for (const instructions of ["lettering and fonts", "layout and placement", "cinematic lighting", "surreal and imaginative", "nothing in particular"]) {
      const rewritten = rewriterReply(NOOK, instructions);
      expect(analysePrompt(rewritten).atoms.map((a) => a.key), rewritten).toEqual(analysePrompt(NOOK).atoms.map((a) => a.key));
    }
  });

  it("reads positions in the picture, before or after the noun, apart from relations", () => {
    expect(parseScene("a window on the left, at the top a yellow moon").positions).toEqual([
      { object: "window", position: "left" },
      { object: "moon", position: "top" },
    ]);
    const relation = parseScene("a lamp on the left of a sofa");
    expect(relation.positions).toEqual([]);
    expect(relation.relations).toEqual([{ subject: "lamp", relation: "left of", object: "sofa" }]);
  });

  it("parses the questions it writes about unknown objects and positions back to the same atoms", () => {
    const { spec, atoms } = analysePrompt(NOOK);
    for (const { atom } of atoms) expect(parseQuestion(questionFor(atom, countsOfSpec(spec)))).toEqual(atom);
    expect(parseQuestion("Is the lamp at the bottom of the picture?")).toEqual({ kind: "position", object: "lamp", position: "bottom" });
  });
});

describe("unknown objects", () => {
  it("are drawn as a box in their colour with their noun written on it", () => {
    const { png, scene } = renderPrompt("a green sofa", { seed: 1, width: 160, height: 160, capacity: 50 });
    const sofa = scene.objects.find((o) => o.noun === "sofa")!;
    expect(sofa).toMatchObject({ shape: "label", colour: "green", count: 1 });
    const { rgba, width } = decodePng(png);
    const box = sofa.boxes[0]!;
    const pixels = (y0: number, y1: number) => {
      const seen = new Set<string>();
      for (let y = Math.round(box.y + box.h * y0); y < box.y + box.h * y1; y++) {
        for (let x = box.x + 2; x < box.x + box.w - 2; x++) seen.add(rgba.subarray((y * width + x) * 4, (y * width + x) * 4 + 3).join(","));
      }
      return seen;
    };
    // The word band holds ink besides the box colour; the band above it is plain box colour.
    expect(pixels(0.35, 0.65).size).toBeGreaterThan(1);
    expect(pixels(0.1, 0.25)).toEqual(new Set(["40,170,70"]));
  });

  it("are drawn the same way every time for the same prompt and seed, styles and relations included", async () => {
    const generator = createSimGenerator({ width: 96, height: 96 });
    const prompt = `${NOOK}, a lamp behind the sofa, in watercolor style`;
    for (const seed of [1, 2, 3]) {
      const [first, again] = [await generator.generate({ prompt, seed }), await generator.generate({ prompt, seed })];
      expect(Buffer.from(again).equals(Buffer.from(first))).toBe(true);
    }
  });

  it("can fail honestly: a late unknown object is sometimes left out, and the verifier says so", () => {
    const prompt = "a red cube, a blue sphere, a yellow star, a green kettle";
    const kettle = analysePrompt(prompt).atoms.find((a) => a.key === "count:kettle")!.atom;
    const results = Array.from({ length: 40 }, (_, seed) => checkAtom(renderPrompt(prompt, { seed, width: 96, height: 96, capacity: 3 }).scene, kettle));
    expect(results.some((r) => r.holds)).toBe(true);
    expect(results.some((r) => !r.holds)).toBe(true);
    expect(results.find((r) => !r.holds)!.reason).toMatch(/kettle/);
  });

  it("keeps the reading-nook request honest end to end: all-passed only when sofa and window are really drawn", async () => {
    const mllm = createSimMllm();
    const generator = createSimGenerator({ width: 128, height: 128 });
    const questions = (JSON.parse((await mllm.chat({ messages: decomposerMessages(NOOK) })).content) as { questions: string[] }).questions;
    expect(questions.filter((q) => /sofa/.test(q))).toHaveLength(3);
    expect(questions.filter((q) => /window/.test(q))).toHaveLength(2);
    let allPassed = 0;
    let someFailed = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const png = await generator.generate({ prompt: NOOK, seed });
      const answers = await Promise.all(questions.map(async (q) => (await mllm.chat({ messages: verifierMessages(png, q) })).content));
      const scene = sceneOfImage(png)!;
      if (answers.every((a) => a.startsWith("yes"))) {
        allPassed++;
        const sofa = scene.objects.find((o) => o.noun === "sofa");
        const window = scene.objects.find((o) => o.noun === "window");
        expect(sofa, `seed ${seed}`).toMatchObject({ count: 1, colour: "green" });
        expect(window, `seed ${seed}`).toMatchObject({ count: 1 });
        const box = window!.boxes[0]!;
        expect(box.x + box.w / 2, `seed ${seed}`).toBeLessThan(128 * 0.4);
      } else {
        someFailed++;
        const failed = questions.filter((_, i) => !answers[i]!.startsWith("yes"));
        expect(failed.some((q) => /sofa|window|nook|cats/.test(q)), `seed ${seed}`).toBe(true);
      }
    }
    // Eight requirements are more than the sim draws reliably from one prompt.
    expect(someFailed).toBeGreaterThan(0);
    expect(allPassed + someFailed).toBe(30);
  });
});
