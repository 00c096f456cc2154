/** Style words visibly change the sim's picture, are recorded in its scene, and can be lost. */
import { describe, expect, it } from "vitest";
import { rewriterMessages, verifierMessages } from "../../core/agent/prompts.ts";
import { decodePng } from "../../core/images/png.ts";
import { renderPrompt } from "../../servers/sim/draw-scene.ts";
import { checkAtom } from "../../servers/sim/rendered-scene.ts";
import { analysePrompt } from "../../servers/sim/scene.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

const SIZE = { seed: 4, width: 128, height: 128, capacity: 50 };
const pixelsOf = (prompt: string) => decodePng(renderPrompt(prompt, SIZE).png).rgba;
const colourCount = (rgba: Uint8Array) => new Set(Array.from({ length: rgba.length / 4 }, (_, i) => rgba.subarray(i * 4, i * 4 + 3).join(","))).size;
const changed = (a: Uint8Array, b: Uint8Array) => {
  let differing = 0;
  for (let o = 0; o < a.length; o += 4) if (a[o] !== b[o] || a[o + 1] !== b[o + 1] || a[o + 2] !== b[o + 2]) differing++;
  return differing / (a.length / 4);
};

describe("style words", () => {
  const plain = pixelsOf("a red cube next to a blue lamp");

  for (const style of ["watercolor", "pixel art", "sketch", "neon", "photo", "cartoon", "vintage"]) {
    it(`"${style}" changes most of the picture and is recorded in the scene`, () => {
      const prompt = `a red cube next to a blue lamp, ${style}`;
      const styled = pixelsOf(prompt);
      expect(changed(plain, styled)).toBeGreaterThan(0.2);
      expect(renderPrompt(prompt, SIZE).scene.styles).toHaveLength(1);
    });
  }

  it("draws pixel art in uniform blocks and a sketch in two tones", () => {
    const blocks = pixelsOf("a red cube, pixel art");
    const width = 128;
    const at = (x: number, y: number) => blocks.subarray((y * width + x) * 4, (y * width + x) * 4 + 3).join(",");
    // Below the "SIM" marker, which is stamped after the effect.
    for (let by = 16; by < 124; by += 4) for (let bx = 0; bx < 124; bx += 4) expect(at(bx + 3, by + 3)).toBe(at(bx, by));
    // The "SIM" marker is stamped after the effect, so it adds one colour of its own.
    expect(colourCount(pixelsOf("a red cube next to a blue lamp, sketch"))).toBeLessThanOrEqual(3);
  });

  it("can lose a style named late, and the verifier then says so", () => {
    const prompt = "a red cube, a blue sphere, a yellow star, in watercolor style";
    const atom = analysePrompt(prompt).atoms.find((a) => a.atom.kind === "style")!.atom;
    const scenes = Array.from({ length: 40 }, (_, seed) => renderPrompt(prompt, { seed, width: 64, height: 64, capacity: 3 }).scene);
    const lost = scenes.filter((scene) => !checkAtom(scene, atom).holds);
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.length).toBeLessThan(40);
    expect(lost[0]!.styles).toEqual([]);
    expect(checkAtom(lost[0]!, atom).reason).toBe("the image is not in a watercolor style");
  });

  it("answers a style question from the scene", async () => {
    const mllm = createSimMllm();
    const png = renderPrompt("a red cube, neon", SIZE).png;
    expect((await mllm.chat({ messages: verifierMessages(png, "Is the image in a neon style?") })).content).toBe("yes, the image is in a neon style.");
    expect((await mllm.chat({ messages: verifierMessages(png, "Is the image in a sketch style?") })).content).toBe("no, the image is not in a sketch style.");
  });

  it("lets a skill that cares about the medium name the style first, which the generator then honours more often", async () => {
    const mllm = createSimMllm();
    const request = "a red cube, a blue sphere, a yellow star, in watercolor style";
    const withSkill = (await mllm.chat({ messages: rewriterMessages(request, "Keep the medium the request asks for; name one light source.") })).content;
    const without = (await mllm.chat({ messages: rewriterMessages(request, "Place objects plainly.") })).content;
    expect(withSkill.startsWith("In watercolor style: ")).toBe(true);
    expect(without.startsWith(request)).toBe(true);
    const rate = (prompt: string) =>
      Array.from({ length: 40 }, (_, seed) => renderPrompt(prompt, { seed, width: 64, height: 64, capacity: 3 }).scene.styles.length).reduce((a, b) => a + b, 0) / 40;
    expect(rate(withSkill)).toBe(1);
    expect(rate(without)).toBeLessThan(0.6);
  });
});
