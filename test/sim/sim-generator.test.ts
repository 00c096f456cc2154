import { describe, expect, it } from "vitest";
import { InputError } from "../../core/errors.ts";
import { decodePng, readPngInfo, readPngText } from "../../core/images/png.ts";
import { renderPrompt } from "../../servers/sim/draw-scene.ts";
import { COLOUR_RGB } from "../../servers/sim/lexicon.ts";
import { BENCH_PROMPTS, NEW_BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { createRandom } from "../../servers/sim/random.ts";
import { checkAtom, parseRenderedScene, SCENE_KEY } from "../../servers/sim/rendered-scene.ts";
import { misspell, wrongColour, wrongCount } from "../../servers/sim/salience.ts";
import { analysePrompt } from "../../servers/sim/scene.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";

const EXAMPLE = 'three red cubes on the left of a blue sphere, a sign that says "OPEN"';
const sceneOf = (png: Uint8Array) => parseRenderedScene(readPngText(png)[SCENE_KEY]!)!;

/** How often, over many seeds, the sim draws one atom of a prompt as asked. */
function successRate(prompt: string, key: string, seeds = 200): number {
  const atom = analysePrompt(prompt).atoms.find((a) => a.key === key)!.atom;
  let hits = 0;
  for (let seed = 0; seed < seeds; seed++) {
    if (checkAtom(renderPrompt(prompt, { seed, width: 96, height: 96, capacity: 3 }).scene, atom).holds) hits++;
  }
  return hits / seeds;
}

describe("sim generator", () => {
  it("reports coarse partial drawings with rising percentages while it waits out its latency", async () => {
    const generator = createSimGenerator({ latencyMs: 40, width: 96, height: 96 });
    const reports: Array<{ percent: number; preview: Uint8Array | null }> = [];
    const png = await generator.generate({ prompt: EXAMPLE, seed: 5, onProgress: (p) => reports.push(p) });
    expect(reports.map((r) => r.percent)).toEqual([25, 50, 75]);
    for (const { preview } of reports) {
      expect(readPngInfo(preview!)).toEqual({ width: 96, height: 96 });
      // A partial is not a finished sim image: no scene for the verifier, different pixels.
      expect(readPngText(preview!)[SCENE_KEY]).toBeUndefined();
      expect(Buffer.from(preview!).equals(Buffer.from(png))).toBe(false);
    }
    const again = await createSimGenerator({ width: 96, height: 96 }).generate({ prompt: EXAMPLE, seed: 5 });
    expect(Buffer.from(png).equals(Buffer.from(again))).toBe(true);
  });

  it("reports nothing when it has no latency to fill", async () => {
    const reports: unknown[] = [];
    await createSimGenerator({ width: 64, height: 64 }).generate({ prompt: EXAMPLE, onProgress: (p) => reports.push(p) });
    expect(reports).toEqual([]);
  });

  it("makes the same PNG for the same prompt and seed", async () => {
    const generator = createSimGenerator({ width: 128, height: 128 });
    const first = await generator.generate({ prompt: EXAMPLE, seed: 42 });
    const again = await generator.generate({ prompt: EXAMPLE, seed: 42 });
    expect(generator.name).toBe("sim");
    expect(Buffer.from(again).equals(Buffer.from(first))).toBe(true);
  });

  it("draws different luck for different seeds", async () => {
    const generator = createSimGenerator({ width: 64, height: 64 });
    const scenes = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const scene = sceneOf(await generator.generate({ prompt: "an orange cat to the left of a green dog, three yellow flowers", seed }));
      scenes.add(JSON.stringify(scene.objects.map((o) => [o.noun, o.count, o.colour])));
    }
    expect(scenes.size).toBeGreaterThan(1);
  });

  it("embeds the scene it actually drew, sized as asked, and says it is a simulation", async () => {
    const png = await createSimGenerator().generate({ prompt: EXAMPLE, seed: 7, width: 200, height: 120 });
    expect(readPngInfo(png)).toEqual({ width: 200, height: 120 });
    expect(readPngText(png)["Software"]).toMatch(/simulation/);
    const scene = sceneOf(png);
    const rendered = renderPrompt(EXAMPLE, { seed: 7, width: 200, height: 120, capacity: 3 }).scene;
    expect(scene).toEqual(rendered);
    expect(scene).toMatchObject({ generator: "gems-sim", simulated: true, seed: 7, width: 200, height: 120 });
    // The picture agrees with the JSON: the middle of each drawn cube has the cubes' colour.
    const { rgba, width } = decodePng(png);
    const cubes = scene.objects.find((o) => o.noun === "cube")!;
    for (const box of cubes.boxes) {
      const at = ((box.y + Math.floor(box.h / 2)) * width + box.x + Math.floor(box.w / 2)) * 4;
      expect([...rgba.subarray(at, at + 3)]).toEqual([...COLOUR_RGB[cubes.colour]]);
    }
  });

  it("draws every requirement right when its capacity covers them all", () => {
    for (const [index, prompt] of [...BENCH_PROMPTS, ...NEW_BENCH_PROMPTS].entries()) {
      const { atoms } = analysePrompt(prompt);
      const { scene } = renderPrompt(prompt, { seed: index, width: 256, height: 256, capacity: 50 });
      for (const { atom, key } of atoms) expect(checkAtom(scene, atom).holds, `${prompt}: ${key}`).toBe(true);
    }
  });

  it("always draws the first requirements of a prompt right", () => {
    for (let seed = 0; seed < 50; seed++) {
      const { outcomes } = renderPrompt(EXAMPLE, { seed, width: 64, height: 64, capacity: 3 });
      const first = outcomes.filter((o) => o.mention.first <= 3);
      expect(first.every((o) => o.rendered)).toBe(true);
    }
  });

  it("draws a late requirement right more often once it is named first", () => {
    const late = successRate("an orange cat to the left of a green dog, three yellow flowers", "colour:flower");
    const early = successRate("three yellow flowers, an orange cat to the left of a green dog", "colour:flower");
    expect(late).toBeLessThan(0.35);
    expect(early).toBeGreaterThan(0.95);
  });

  it("draws a late requirement right more often when it is repeated", () => {
    const once = successRate("an orange cat to the left of a green dog, three yellow flowers", "colour:flower");
    const repeated = successRate("an orange cat to the left of a green dog, three yellow flowers. Again: yellow flowers. Once more: yellow flowers", "colour:flower");
    expect(repeated - once).toBeGreaterThan(0.3);
  });

  it("stops waiting when the request is aborted", async () => {
    const generator = createSimGenerator({ latencyMs: 60_000 });
    const controller = new AbortController();
    const pending = generator.generate({ prompt: EXAMPLE, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });

  it("rejects an empty prompt and an impossible size as input errors", async () => {
    const generator = createSimGenerator();
    await expect(generator.generate({ prompt: "  " })).rejects.toBeInstanceOf(InputError);
    await expect(generator.generate({ prompt: "a cube", width: 5 })).rejects.toThrow(/width must be a whole number/);
  });
});

describe("wrong renders", () => {
  it("misspell text so that it differs even ignoring case", () => {
    for (let seed = 0; seed < 30; seed++) {
      const random = createRandom(seed);
      for (const text of ["OPEN", "AAA", "42", "Hi there", "x"]) {
        expect(misspell(text, random).toLowerCase(), text).not.toBe(text.toLowerCase());
      }
    }
  });

  it("change a count by one or drop the object, and always pick a different colour", () => {
    const random = createRandom(3);
    for (let i = 0; i < 50; i++) {
      expect([0, 2, 4]).toContain(wrongCount(3, random));
      expect([0, 2]).toContain(wrongCount(1, random));
      expect(wrongColour("red", random)).not.toBe("red");
    }
  });
});
