import { describe, expect, it } from "vitest";
import {
  extractJson,
  limitWords,
  parseAnswer,
  parseFeedbackEdit,
  parseQuestions,
  parseRefinedPrompt,
  parseSkillRoute,
} from "../../core/agent/parse.ts";

describe("parseQuestions", () => {
  it("reads the questions field of a JSON reply", () => {
    expect(parseQuestions('{"questions": ["Is there a cat?", "Is the cat black?"]}')).toEqual([
      "Is there a cat?",
      "Is the cat black?",
    ]);
  });

  it("finds JSON inside a code fence surrounded by prose", () => {
    const reply = 'Sure! Here you go:\n```json\n{"questions": ["Is the sky blue?"]}\n```\nHope it helps.';
    expect(parseQuestions(reply)).toEqual(["Is the sky blue?"]);
  });

  it("finds a JSON object embedded in a sentence", () => {
    expect(parseQuestions('The checklist is {"questions": ["Are there two dogs?"]} as requested.')).toEqual([
      "Are there two dogs?",
    ]);
  });

  it("accepts a bare JSON array", () => {
    expect(parseQuestions('["Is there a tree?", "Is the tree green?"]')).toEqual(["Is there a tree?", "Is the tree green?"]);
  });

  it("falls back to question lines when the model answers in prose", () => {
    const reply = "Here are the checks:\n1. Are there three red cubes?\n- Is the sphere blue?\n**Q3:** Does the sign say OPEN?\nThat is all.";
    expect(parseQuestions(reply)).toEqual(["Are there three red cubes?", "Is the sphere blue?", "Does the sign say OPEN?"]);
  });

  it("drops duplicates and blanks", () => {
    expect(parseQuestions('{"questions": ["Is it red?", "is it red?", "  ", 3]}')).toEqual(["Is it red?"]);
  });

  it("gives no questions for an empty answer", () => {
    expect(parseQuestions("")).toEqual([]);
  });
});

describe("parseAnswer", () => {
  it("passes an answer whose first word is yes even when no appears later", () => {
    expect(parseAnswer("Yes, nothing is missing.")).toEqual({ passed: true });
  });

  it("fails an answer whose first word is no even when yes appears later", () => {
    const verdict = parseAnswer("No. The cube is there, yes, but it is green.");
    expect(verdict.passed).toBe(false);
    expect(verdict.failure).toContain("it is green");
  });

  it("reads yes through markdown emphasis and quotes", () => {
    expect(parseAnswer('**Yes** - the sign reads "OPEN".').passed).toBe(true);
    expect(parseAnswer('"yes"').passed).toBe(true);
  });

  it("treats an unsure answer as a failure and keeps what was said", () => {
    expect(parseAnswer("Not sure, the image is blurry.")).toEqual({
      passed: false,
      failure: "unclear answer: Not sure, the image is blurry.",
    });
  });

  it("treats an empty answer as a failure", () => {
    expect(parseAnswer("   ")).toEqual({ passed: false, failure: "empty answer" });
  });

  it("does not mistake words starting with yes or no for a verdict", () => {
    expect(parseAnswer("Yesterday's sign is visible").passed).toBe(false);
    expect(parseAnswer("Nothing is wrong").failure).toMatch(/^unclear answer/);
  });
});

describe("parseSkillRoute", () => {
  const known = ["text-rendering", "spatial-layout"];

  it("returns the skill the planner chose in JSON", () => {
    expect(parseSkillRoute('{"skill": "text-rendering", "why": "has a sign"}', known)).toEqual({
      skill: "text-rendering",
      why: "has a sign",
    });
  });

  it("ignores a skill id the library does not have", () => {
    expect(parseSkillRoute('{"skill": "watercolor", "why": "x"}', known).skill).toBeNull();
  });

  it("accepts a null choice", () => {
    expect(parseSkillRoute('{"skill": null, "why": "plain request"}', known).skill).toBeNull();
  });

  it("reads a single skill named in prose", () => {
    expect(parseSkillRoute("I would use spatial-layout here.", known).skill).toBe("spatial-layout");
  });

  it("chooses nothing when prose names two skills", () => {
    expect(parseSkillRoute("Either spatial-layout or text-rendering.", known).skill).toBeNull();
  });
});

describe("parseRefinedPrompt", () => {
  it("takes the text after the PROMPT line and the text before it as the thought", () => {
    expect(parseRefinedPrompt({ content: "The cubes were missing.\nPROMPT: three red cubes, a blue sphere", reasoning: null })).toEqual({
      prompt: "three red cubes, a blue sphere",
      thought: "The cubes were missing.",
    });
  });

  it("prefers the server's reasoning channel as the thought", () => {
    expect(parseRefinedPrompt({ content: "PROMPT: a cat", reasoning: "think about cats" })).toEqual({
      prompt: "a cat",
      thought: "think about cats",
    });
  });

  it("uses the last PROMPT line when the model drafts several", () => {
    expect(parseRefinedPrompt({ content: "PROMPT: draft\nbetter:\n**PROMPT:** final one", reasoning: null })?.prompt).toBe("final one");
  });

  it("takes the whole reply, unquoted, when there is no PROMPT line", () => {
    expect(parseRefinedPrompt({ content: '"a red cube on a table"', reasoning: null })).toEqual({
      prompt: "a red cube on a table",
      thought: null,
    });
  });

  it("gives null for an empty reply", () => {
    expect(parseRefinedPrompt({ content: "PROMPT:   ", reasoning: null })).toBeNull();
  });
});

describe("parseFeedbackEdit", () => {
  it("keeps only replaced ids that exist in the checklist", () => {
    expect(parseFeedbackEdit('{"questions": ["Is the sphere green?"], "replaces": [2, 9, "2"]}', new Set([1, 2]))).toEqual({
      questions: ["Is the sphere green?"],
      replaces: [2],
    });
  });

  it("falls back to question lines and replaces nothing", () => {
    expect(parseFeedbackEdit("- Is the sphere green?", new Set([1]))).toEqual({ questions: ["Is the sphere green?"], replaces: [] });
  });
});

describe("extractJson and limitWords", () => {
  it("skips brackets inside strings when matching", () => {
    expect(extractJson('note: {"a": "x}y", "b": [1]} end')).toEqual({ a: "x}y", b: [1] });
  });

  it("cuts a long experience to the word limit", () => {
    const long = Array.from({ length: 150 }, (_, i) => `w${i}`).join(" ");
    expect(limitWords(long, 99).split(" ")).toHaveLength(99);
  });
});

describe("parseRefinedPrompt, the way models really write", () => {
  const read = (content: string, reasoning: string | null = null) => parseRefinedPrompt({ content, reasoning });
  const PROMPT = "three red cubes in a row, a blue sphere on the left";

  it.each([
    ["a bold label with the colon inside", `Attempt 1 lost the sphere.\n\n**Final prompt:** ${PROMPT}`],
    ["a bold label with the colon outside", `The sphere was missing.\n**Final prompt**: ${PROMPT}`],
    ["a plain 'Final prompt:' label", `Analysis first.\nFinal prompt: ${PROMPT}`],
    ["a 'Prompt:' label", `Prompt: ${PROMPT}`],
    ["an 'Improved prompt' heading with the prompt below", `### Analysis\nCubes were fine.\n\n### Improved prompt\n${PROMPT}`],
    ["a label alone on its line, bold", `Some thinking.\n\n**Refined prompt:**\n\n${PROMPT}`],
    ["a numbered label", `New prompt for attempt 3: ${PROMPT}`],
    ["an introducing sentence", `Here is the improved prompt:\n\n${PROMPT}`],
    ["a code fence after the label", `PROMPT:\n\`\`\`\n${PROMPT}\n\`\`\``],
    ["a fenced block with no label", `I moved the sphere forward.\n\n\`\`\`text\n${PROMPT}\n\`\`\`\n\nThat should work.`],
    ["quotes and bold around the prompt", `Final prompt: **"${PROMPT}"**`],
    ["a trailing note after a blank line", `PROMPT: ${PROMPT}\n\nNote: the sphere now comes first.`],
    ["a trailing note on the next line", `PROMPT: ${PROMPT}\nThis prompt names the sphere first so it renders.`],
    ["a trailing explanation after a rule", `**Final prompt:** ${PROMPT}\n---\nChanges: moved the sphere.`],
    ["a leftover inline thought before the answer", `let me think about the sphere</think>\n\nPROMPT: ${PROMPT}`],
  ])("reads only the prompt from %s", (_what, content) => {
    expect(read(content)?.prompt).toBe(PROMPT);
  });

  it("keeps the analysis before the label as the thought when the server sent no reasoning", () => {
    expect(read(`The sphere was missing.\n**Final prompt:** ${PROMPT}`)?.thought).toBe("The sphere was missing.");
  });

  it("finds no prompt in several paragraphs of analysis without a label", () => {
    expect(read("The cubes passed.\n\nThe sphere failed because it was hidden. I would move it forward.")).toBeNull();
  });

  it("does not take a sentence that starts with the word prompt for a label", () => {
    expect(read("Prompt engineering matters here.\n\nWe should move the sphere.")).toBeNull();
  });
});

describe("parseAnswer from reasoning models", () => {
  it.each([
    ["Answer: Yes", true],
    ["**Final answer:** No, the cube is green.", false],
    ["\\boxed{Yes}", true],
    ["\\boxed{\\text{No}} the sphere is missing", false],
    ["Looking at the left side there is a cube.\nIt is clearly red.\n\nAnswer: yes", true],
    ["I see it</think>\n\nNo. It is green.", false],
    ["<think>\nhmm, looks red\n</think>\nYes", true],
  ])("reads %j", (text, passed) => {
    expect(parseAnswer(text).passed).toBe(passed);
  });

  it("reports an unfinished thought as an empty answer, not as a no", () => {
    expect(parseAnswer("<think>\nthe cube might be")).toEqual({ passed: false, failure: "empty answer" });
  });
});
