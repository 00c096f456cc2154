/**
 * Feedback about something the checklist does not yet ask always becomes a new requirement; the
 * sim says "nothing new" only when an existing question asks the very same thing.
 */
import { describe, expect, it } from "vitest";
import { feedbackMessages, refinerMessages, verifierMessages } from "../../core/agent/prompts.ts";
import { renderPrompt } from "../../servers/sim/draw-scene.ts";
import { questionsForFeedback } from "../../servers/sim/feedback.ts";
import { countsOfSpec, questionFor } from "../../servers/sim/questions.ts";
import { analysePrompt, parseScene } from "../../servers/sim/scene.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

const NOOK = "a cozy reading nook with two orange cats on a green sofa, a window on the left";
const { spec, atoms } = analysePrompt(NOOK);
const checklist = atoms.map((a, i) => ({ id: i + 1, question: questionFor(a.atom, countsOfSpec(spec)) }));
const feedback = (comment: string) => questionsForFeedback(comment, checklist, countsOfSpec(parseScene(NOOK)));

describe("feedback coverage", () => {
  it("adds an object the lexicon does not know", () => {
    expect(feedback("add a tall lamp")).toEqual({ questions: ["Is there exactly one lamp?"], replaces: [] });
  });

  it("adds a relation to an unknown object and keeps the objects' own questions", () => {
    expect(feedback("put a rug under the sofa")).toEqual({ questions: ["Is there exactly one rug?", "Is the rug below the sofa?"], replaces: [] });
  });

  it("replaces a question only about the same object and attribute", () => {
    expect(feedback("the window should be on the right")).toEqual({ questions: ["Is the window on the right side of the image?"], replaces: [8] });
    expect(feedback("make the sofa blue")).toEqual({ questions: ["Is the sofa blue?"], replaces: [6] });
  });

  it("says nothing new only when an existing question asks the very same thing", () => {
    expect(feedback("the sofa must be green")).toEqual({ questions: [], replaces: [] });
    expect(feedback("I want exactly one window on the left")).toEqual({ questions: [], replaces: [] });
    expect(feedback("there should be three cats")).toEqual({ questions: ["Are there exactly three cats?"], replaces: [2] });
  });

  it("turns a wish it cannot break into requirements into a question of its own", () => {
    expect(feedback("make it feel warmer and more inviting")).toEqual({
      questions: ["Does the image follow this feedback: make it feel warmer and more inviting?"],
      replaces: [],
    });
    // A clause the sim can read and one it cannot: both become questions.
    expect(feedback("add a lamp. the cats look sleepy")).toEqual({
      questions: ["Does the image follow this feedback: the cats look sleepy?", "Is there exactly one lamp?"],
      replaces: [],
    });
  });

  it("asks nothing for thanks or praise", () => {
    expect(feedback("looks great, thanks!")).toEqual({ questions: [], replaces: [] });
  });

  it("answers a free-form question honestly: it cannot confirm it from the scene", async () => {
    const mllm = createSimMllm();
    const reply = await mllm.chat({ messages: feedbackMessages(NOOK, checklist, { author: "ana", text: "make it feel warmer" }) });
    const { questions } = JSON.parse(reply.content) as { questions: string[] };
    expect(questions).toEqual(["Does the image follow this feedback: make it feel warmer?"]);
    const png = renderPrompt(NOOK, { seed: 1, width: 96, height: 96, capacity: 50 }).png;
    expect((await mllm.chat({ messages: verifierMessages(png, questions[0]!) })).content).toMatch(/^no, but I am unsure/);
  });

  it("follows a colour change said after the noun, instead of calling the old colour covered", () => {
    expect(feedback("make the green sofa blue")).toEqual({ questions: ["Is the sofa blue?"], replaces: [6] });
  });

  it("recolours one of two objects of a noun and asks again about everything that involved it", () => {
    const request = "a red cube to the left of a blue cube";
    const split = analysePrompt(request);
    const lines = split.atoms.map((a, i) => ({ id: i + 1, question: questionFor(a.atom, countsOfSpec(split.spec)) }));
    expect(lines.map((l) => l.question)).toEqual([
      "Is there exactly one red cube?",
      "Is the red cube to the left of the blue cube?",
      "Is there exactly one blue cube?",
    ]);
    expect(questionsForFeedback("make the blue cube green", lines, countsOfSpec(split.spec))).toEqual({
      questions: ["Is the red cube to the left of the green cube?", "Is there exactly one green cube?"],
      replaces: [2, 3],
    });
  });

  it("refines toward the recoloured object, leaving out the one feedback replaced", async () => {
    const mllm = createSimMllm();
    const request = "a red cube to the left of a blue cube";
    const checklist = [
      { id: 1, question: "Is there exactly one red cube?" },
      { id: 4, question: "Is the red cube to the left of the green cube?" },
      { id: 5, question: "Is there exactly one green cube?" },
    ];
    const results = [{ ...checklist[0]!, passed: true }];
    const reply = await mllm.chat({
      messages: refinerMessages({
        request,
        checklist,
        feedback: [{ author: "ana", text: "make the blue cube green" }],
        attempts: [{ n: 1, prompt: request, png: new Uint8Array(), results, experience: null }],
      }),
    });
    const prompt = /^PROMPT: (.+)$/m.exec(reply.content)![1]!;
    expect(parseScene(prompt).objects.map((o) => o.id).sort()).toEqual(["green cube", "red cube"]);
  });
});
