import { describe, expect, it } from "vitest";
import { atomsOfComment, questionsForFeedback } from "../../servers/sim/feedback.ts";
import { BENCH_PROMPTS, NEW_BENCH_PROMPTS } from "../../servers/sim/prompts-bench.ts";
import { countsOfSpec, parseQuestion, questionFor } from "../../servers/sim/questions.ts";
import { analysePrompt, atomKey, parseScene } from "../../servers/sim/scene.ts";

const questionsOf = (prompt: string) => {
  const { spec, atoms } = analysePrompt(prompt);
  return atoms.map((a) => questionFor(a.atom, countsOfSpec(spec)));
};

describe("scene parsing", () => {
  it("reads counts, colours, a relation and a sign's text", () => {
    const spec = parseScene('three red cubes on the left of a blue sphere, a sign that says "OPEN"');
    expect(spec.objects).toEqual([
      { id: "cube", noun: "cube", shape: "square", count: 3, colour: "red", text: null },
      { id: "sphere", noun: "sphere", shape: "circle", count: 1, colour: "blue", text: null },
      { id: "sign", noun: "sign", shape: "plaque", count: 1, colour: null, text: "OPEN" },
    ]);
    expect(spec.relations).toEqual([{ subject: "cube", relation: "left of", object: "sphere" }]);
    expect(spec.texts).toEqual(["OPEN"]);
  });

  it("understands digits, plurals, grey and 'beside'", () => {
    const spec = parseScene("2 grey dogs beside an orange cat");
    expect(spec.objects.map((o) => [o.noun, o.count, o.colour])).toEqual([
      ["dog", 2, "gray"],
      ["cat", 1, "orange"],
    ]);
    expect(spec.relations).toEqual([{ subject: "dog", relation: "next to", object: "cat" }]);
  });

  it("maps object nouns to drawable shapes", () => {
    const shapes = parseScene("a ball, a pyramid, a cylinder, a house, a car, a flower").objects.map((o) => o.shape);
    expect(shapes).toEqual(["circle", "triangle", "column", "house", "car", "flower"]);
  });

  it("keeps free-standing quoted text and style words", () => {
    const spec = parseScene('the words "GOOD MORNING" above a yellow bird, watercolor');
    expect(spec.texts).toEqual(["GOOD MORNING"]);
    expect(spec.styles).toEqual(["watercolor"]);
    expect(spec.objects.map((o) => o.noun)).toEqual(["bird"]);
  });

  it("treats the same relation stated backwards as the same requirement", () => {
    const forwards = analysePrompt("two cubes to the left of a sphere").atoms.find((a) => a.atom.kind === "relation")!;
    const backwards = analysePrompt("a sphere to the right of two cubes").atoms.find((a) => a.atom.kind === "relation")!;
    expect(backwards.key).toBe(forwards.key);
  });

  it("records where an atom is first named and how often it is repeated", () => {
    const { atoms } = analysePrompt("a blue sphere, three red cubes. Again: red cubes, red cubes");
    const colour = atoms.find((a) => a.key === "colour:cube")!;
    const sphere = atoms.find((a) => a.key === "colour:sphere")!;
    expect(colour.mentions).toBe(3);
    expect(sphere.mentions).toBe(1);
    expect(sphere.first).toBeLessThan(colour.first);
  });

  it("reads a colour after its noun only when the sentence links them", () => {
    expect(parseScene("make the sphere green").objects[0]!.colour).toBe("green");
    expect(parseScene("the cubes are red").objects[0]!.colour).toBe("red");
    expect(parseScene("a sphere. Green is nice").objects[0]!.colour).toBeNull();
  });
});

describe("questions", () => {
  it("asks one atomic question per count, colour, relation and text", () => {
    expect(questionsOf('three red cubes on the left of a blue sphere, a sign that says "OPEN"')).toEqual([
      "Are there exactly three cubes?",
      "Are the cubes red?",
      "Are the cubes to the left of the sphere?",
      "Is there exactly one sphere?",
      "Is the sphere blue?",
      'Does the image show the text "OPEN"?',
    ]);
  });

  it("parses every question it writes for the benchmark prompts back to the same atom", () => {
    for (const prompt of [...BENCH_PROMPTS, ...NEW_BENCH_PROMPTS]) {
      const { spec, atoms } = analysePrompt(prompt);
      expect(atoms.length, prompt).toBeGreaterThanOrEqual(3);
      for (const { atom } of atoms) {
        const parsed = parseQuestion(questionFor(atom, countsOfSpec(spec)));
        expect(parsed && atomKey(parsed), prompt).toBe(atomKey(atom));
        expect(parsed).toEqual(atom);
      }
    }
  });

  it("accepts common rewordings and rejects what it cannot check", () => {
    expect(parseQuestion("Is there a cat in the image?")).toEqual({ kind: "count", object: "cat", count: 1 });
    expect(parseQuestion("Are all the cubes coloured red?")).toEqual({ kind: "colour", object: "cube", colour: "red" });
    expect(parseQuestion("Is the dog placed next to the car?")).toEqual({ kind: "relation", subject: "dog", relation: "next to", object: "car" });
    expect(parseQuestion("Is the lighting dramatic?")).toBeNull();
    expect(parseQuestion("Is a dog chasing the sphere?")).toBeNull();
  });
});

describe("feedback", () => {
  const checklist = questionsOf('three red cubes on the left of a blue sphere, a sign that says "OPEN"').map((question, i) => ({ id: i + 1, question }));
  const requestCounts = countsOfSpec(parseScene('three red cubes on the left of a blue sphere, a sign that says "OPEN"'));

  it("turns a colour change into a new question that replaces the old colour question", () => {
    expect(questionsForFeedback("make the sphere green", checklist, requestCounts)).toEqual({ questions: ["Is the sphere green?"], replaces: [5] });
  });

  it("turns new sign text into a text question that replaces the old one", () => {
    expect(questionsForFeedback("the sign should say CLOSED", checklist, requestCounts)).toEqual({
      questions: ['Does the image show the text "CLOSED"?'],
      replaces: [6],
    });
  });

  it("adds questions for an added object without replacing anything", () => {
    expect(questionsForFeedback("add a yellow star", checklist, requestCounts)).toEqual({
      questions: ["Is there exactly one star?", "Is the star yellow?"],
      replaces: [],
    });
  });

  it("retires every question about an object that should be removed", () => {
    expect(questionsForFeedback("please remove the sphere", checklist, requestCounts)).toEqual({
      questions: ["Is there no sphere in the image?"],
      replaces: [3, 4, 5],
    });
  });

  it("replaces a relation between the same two objects", () => {
    expect(questionsForFeedback("put the cubes to the right of the sphere", checklist, requestCounts)).toEqual({
      questions: ["Are the cubes to the right of the sphere?"],
      replaces: [3],
    });
  });

  it("asks nothing for a comment with nothing checkable, or for what is already required", () => {
    expect(atomsOfComment("looks great, thanks!")).toEqual([]);
    expect(questionsForFeedback("the sphere should be blue", checklist, requestCounts)).toEqual({ questions: [], replaces: [] });
  });
});
