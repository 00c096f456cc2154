/**
 * Relations between any two objects, known to the lexicon or not: parsed, laid out, drawn, kept
 * in the scene chunk (boxes and paint order) and verified from it.
 */
import { describe, expect, it } from "vitest";
import { verifierMessages } from "../../core/agent/prompts.ts";
import { renderPrompt } from "../../servers/sim/draw-scene.ts";
import type { Relation } from "../../servers/sim/lexicon.ts";
import { checkAtom } from "../../servers/sim/rendered-scene.ts";
import { type Atom, parseScene } from "../../servers/sim/scene.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { sceneOfImage } from "../../servers/sim/sim-verifier.ts";

const PHRASES: ReadonlyArray<readonly [string, Relation, Relation]> = [
  ["above", "above", "below"],
  ["on", "on", "below"],
  ["next to", "next to", "above"],
  ["to the left of", "left of", "right of"],
  ["to the right of", "right of", "left of"],
  ["below", "below", "above"],
  ["behind", "behind", "in front of"],
  ["in front of", "in front of", "behind"],
];
const draw = (prompt: string) => renderPrompt(prompt, { seed: 3, width: 192, height: 192, capacity: 50 });
const relation = (subject: string, rel: Relation, object: string): Atom => ({ kind: "relation", subject, relation: rel, object });

describe("relations", () => {
  for (const [phrase, rel, wrong] of PHRASES) {
    it(`draws and verifies "${phrase}" between an unknown and a known object`, () => {
      const prompt = `a red lamp ${phrase} a blue cube`;
      expect(parseScene(prompt).relations).toEqual([{ subject: "lamp", relation: rel, object: "cube" }]);
      const { scene } = draw(prompt);
      expect(checkAtom(scene, relation("lamp", rel, "cube"))).toMatchObject({ holds: true });
      expect(checkAtom(scene, relation("lamp", wrong, "cube"))).toMatchObject({ holds: false });
    });
  }

  it("records paint order for overlapping objects, and judges behind from it", () => {
    const { scene } = draw("a red lamp behind a blue cube");
    const lamp = scene.objects.find((o) => o.noun === "lamp")!;
    const cube = scene.objects.find((o) => o.noun === "cube")!;
    expect(lamp.layer).toBeLessThan(cube.layer);
    const [l, c] = [lamp.boxes[0]!, cube.boxes[0]!];
    expect(l.x < c.x + c.w && c.x < l.x + l.w && l.y < c.y + c.h && c.y < l.y + l.h).toBe(true);
  });

  it("makes an object drawn on another touch it, even in a stack of three", () => {
    const { scene } = draw("a cat on a box on a table");
    for (const [subject, object] of [
      ["cat", "box"],
      ["box", "table"],
    ] as const) {
      expect(checkAtom(scene, relation(subject, "on", object)), `${subject} on ${object}`).toMatchObject({ holds: true });
    }
    expect(checkAtom(scene, relation("cat", "on", "table"))).toMatchObject({ holds: false, reason: "the cat is above but not touching the table" });
  });

  it("answers relation questions from the scene chunk, with the drawn relation as the reason when it fails", async () => {
    const mllm = createSimMllm();
    const png = draw("a lamp behind a sofa, a cat to the left of the sofa").png;
    const ask = async (question: string) => (await mllm.chat({ messages: verifierMessages(png, question) })).content;
    expect(await ask("Is the lamp behind the sofa?")).toBe("yes, the lamp is behind the sofa.");
    expect(await ask("Is the lamp in front of the sofa?")).toBe("no, the lamp is behind the sofa.");
    expect(await ask("Is the cat on the sofa?")).toMatch(/^no, the cat is to the left of/);
    expect(sceneOfImage(png)!.objects.map((o) => o.noun).sort()).toEqual(["cat", "lamp", "sofa"]);
  });

  it("draws a failed relation as its opposite when salience drops it", () => {
    const prompt = "a red cube, a white lamp behind a black sofa";
    const atom = relation("lamp", "behind", "sofa");
    const scenes = Array.from({ length: 40 }, (_, seed) => renderPrompt(prompt, { seed, width: 96, height: 96, capacity: 3 }).scene);
    const bothDrawn = scenes.filter((scene) => ["lamp", "sofa"].every((noun) => scene.objects.some((o) => o.noun === noun)));
    const held = bothDrawn.filter((scene) => checkAtom(scene, atom).holds);
    const failed = bothDrawn.filter((scene) => !checkAtom(scene, atom).holds);
    expect(held.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    for (const scene of failed) expect(checkAtom(scene, relation("lamp", "in front of", "sofa")).holds).toBe(true);
  });

  it("draws a failed 'next to' apart, with an empty cell between", () => {
    const prompt = "a red cube, a white lamp next to a black sofa";
    const atom = relation("lamp", "next to", "sofa");
    const scenes = Array.from({ length: 40 }, (_, seed) => renderPrompt(prompt, { seed, width: 96, height: 96, capacity: 3 }).scene);
    const bothDrawn = scenes.filter((scene) => ["lamp", "sofa"].every((noun) => scene.objects.some((o) => o.noun === noun)));
    expect(bothDrawn.filter((scene) => checkAtom(scene, atom).holds).length).toBeGreaterThan(0);
    expect(bothDrawn.filter((scene) => !checkAtom(scene, atom).holds).length).toBeGreaterThan(0);
  });
});
