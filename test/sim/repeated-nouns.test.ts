/** Several objects of one noun told apart by colour stay apart from the request to the verdict. */
import { describe, expect, it } from "vitest";
import { decomposerMessages, refinerMessages, verifierMessages } from "../../core/agent/prompts.ts";
import { renderPrompt } from "../../servers/sim/draw-scene.ts";
import { checkAtom } from "../../servers/sim/rendered-scene.ts";
import { analysePrompt, parseScene } from "../../servers/sim/scene.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

const mllm = createSimMllm();
const ask = async (messages: Parameters<typeof mllm.chat>[0]["messages"]) => (await mllm.chat({ messages })).content;

describe("repeated nouns", () => {
  it("keeps a red cube and a blue cube as two objects, each with its own count", async () => {
    expect(parseScene("a red cube and a blue cube").objects.map((o) => [o.id, o.noun, o.count, o.colour])).toEqual([
      ["red cube", "cube", 1, "red"],
      ["blue cube", "cube", 1, "blue"],
    ]);
    expect(JSON.parse(await ask(decomposerMessages("two red cubes to the left of three blue cubes")))).toEqual({
      questions: ["Are there exactly two red cubes?", "Are the red cubes to the left of the blue cubes?", "Are there exactly three blue cubes?"],
    });
  });

  it("refers back by colour or by the noun alone", () => {
    const { spec, atoms } = analysePrompt("a red cube and a blue cube. The blue cube is above the red cube. Again: red cube");
    expect(spec.objects).toHaveLength(2);
    expect(spec.relations).toEqual([{ subject: "blue cube", relation: "above", object: "red cube" }]);
    expect(atoms.find((a) => a.key === "count:red cube")!.mentions).toBe(1);
    // One object of a noun is still just the noun, and a later colour joins it.
    expect(parseScene("a cube. The cube is red").objects.map((o) => [o.id, o.colour])).toEqual([["cube", "red"]]);
  });

  it("draws both and verifies each by its colour", async () => {
    const png = renderPrompt("a red cube to the left of a blue cube", { seed: 2, width: 160, height: 160, capacity: 50 }).png;
    const verify = (question: string) => ask(verifierMessages(png, question));
    expect(await verify("Is there exactly one red cube?")).toBe("yes, there is one red cube.");
    expect(await verify("Is there exactly one blue cube?")).toBe("yes, there is one blue cube.");
    expect(await verify("Are there exactly two cubes?")).toBe("yes, there are two cubes.");
    expect(await verify("Is there exactly one green cube?")).toBe("no, there is no green cube.");
    expect(await verify("Is the red cube to the left of the blue cube?")).toMatch(/^yes/);
    expect(await verify("Is the blue cube to the left of the red cube?")).toMatch(/^no, the blue cube is to the right of the red cube/);
    expect(await verify("Are the cubes red?")).toBe("no, the cubes are red and blue.");
  });

  it("can get one of the two wrong while the other stays right", () => {
    const prompt = "a yellow star, a green cone, a red cube, a blue cube";
    const { atoms } = analysePrompt(prompt);
    const red = atoms.find((a) => a.key === "count:red cube")!.atom;
    const blue = atoms.find((a) => a.key === "count:blue cube")!.atom;
    const scenes = Array.from({ length: 60 }, (_, seed) => renderPrompt(prompt, { seed, width: 96, height: 96, capacity: 3 }).scene);
    expect(scenes.some((s) => checkAtom(s, red).holds && !checkAtom(s, blue).holds)).toBe(true);
  });

  it("refines the failed one forward without merging the two", async () => {
    const request = "a red cube, a blue cube";
    const checklist = [
      { id: 1, question: "Is there exactly one red cube?" },
      { id: 2, question: "Is there exactly one blue cube?" },
    ];
    const results = [
      { ...checklist[0]!, passed: true },
      { ...checklist[1]!, passed: false, why: "there is no blue cube" },
    ];
    const reply = await mllm.chat({
      messages: refinerMessages({ request, checklist, feedback: [], attempts: [{ n: 1, prompt: request, png: new Uint8Array(), results, experience: null }] }),
    });
    const prompt = /^PROMPT: (.+)$/m.exec(reply.content)![1]!;
    const { spec, atoms } = analysePrompt(prompt);
    expect(atoms[0]!.key).toBe("count:blue cube");
    expect(spec.objects.map((o) => [o.id, o.count])).toEqual([
      ["blue cube", 1],
      ["red cube", 1],
    ]);
  });
});
