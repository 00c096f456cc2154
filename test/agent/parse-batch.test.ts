import { describe, expect, it } from "vitest";
import { parseBatchAnswers, parseFastRefinement, readsAsYesOrNo } from "../../core/agent/parse-batch.ts";

const Q = ["Is there a cube?", "Is the cube red?", "Is the cube on a table?"];

describe("parseBatchAnswers", () => {
  it("reads one numbered line per question", () => {
    expect(parseBatchAnswers("1. yes, a cube\n2. no, it is green\n3. yes", Q)).toEqual(["yes, a cube", "no, it is green", "yes"]);
  });

  it("reads the ways models number their lines", () => {
    const reply = ["**1.** Yes — there is a cube", "Q2: no", "(3) Yes."].join("\n");
    expect(parseBatchAnswers(reply, Q)).toEqual(["Yes — there is a cube", "no", "Yes."]);
    expect(parseBatchAnswers("Question 1 - yes\nAnswer 2: No, green\n- 3) yes", Q)).toEqual(["yes", "No, green", "yes"]);
    expect(parseBatchAnswers("1: yes\n2 no\n#3 yes", Q)).toEqual(["yes", "no", "yes"]);
  });

  it("takes lines in any order and ignores prose around them", () => {
    const reply = "Looking at the image:\n\n3. No, there is no table.\n1. Yes.\n2. Yes, bright red.\n\nLet me know if you need more.";
    expect(parseBatchAnswers(reply, Q)).toEqual(["Yes.", "Yes, bright red.", "No, there is no table."]);
  });

  it("leaves a missing answer null", () => {
    expect(parseBatchAnswers("1. yes\n3. no", Q)).toEqual(["yes", null, "no"]);
    expect(parseBatchAnswers("", Q)).toEqual([null, null, null]);
    expect(parseBatchAnswers("I cannot see the image clearly.", Q)).toEqual([null, null, null]);
  });

  it("reads Windows line endings", () => {
    expect(parseBatchAnswers("1. yes\r\n2. no\r\n3. yes\r\n", Q)).toEqual(["yes", "no", "yes"]);
  });

  it("reads numbered verdicts run together on one line", () => {
    expect(parseBatchAnswers("1. yes 2. no, it is green 3) yes", Q)).toEqual(["yes", "no, it is green", "yes"]);
  });

  it("takes unnumbered yes/no lines in order only when there is exactly one per question", () => {
    expect(parseBatchAnswers("Yes, a cube.\n- No, green.\nYes", Q)).toEqual(["Yes, a cube.", "No, green.", "Yes"]);
    expect(parseBatchAnswers("Yes, a cube.\nNo, green.", Q)).toEqual([null, null, null]);
    expect(parseBatchAnswers("Sure.\nYes\nNo\nYes\nNo", Q)).toEqual([null, null, null]);
  });

  it("ignores numbers beyond the questions asked", () => {
    expect(parseBatchAnswers("1. yes\n2. no\n3. yes\n4. yes", Q)).toEqual(["yes", "no", "yes"]);
  });

  it("drops a question the model echoed before its answer, on the same line or the next", () => {
    expect(parseBatchAnswers("1. Is there a cube? Yes, one.\n2. **Is the cube red?** — No\n3. Is the cube on a table?\nYes, a wooden one.", Q)).toEqual([
      "Yes, one.",
      "No",
      "Yes, a wooden one.",
    ]);
  });

  it("joins a reason that runs onto the next line", () => {
    expect(parseBatchAnswers("1. no, the cube\n   is a sphere\n2. yes\n3. yes", Q)[0]).toBe("no, the cube is a sphere");
  });

  it("refuses to guess when one number gets two different verdicts", () => {
    expect(parseBatchAnswers("1. yes\n1. no\n2. yes\n3. yes", Q)[0]).toBeNull();
    expect(parseBatchAnswers("1. yes\n1. yes, really\n2. yes\n3. yes", Q)[0]).toBe("yes");
  });

  it("keeps an unclear answer for the caller to ask again", () => {
    expect(parseBatchAnswers("1. maybe\n2. yes\n3. no", Q)[0]).toBe("maybe");
  });

  it("reads JSON replies", () => {
    expect(parseBatchAnswers('{"answers": ["yes", "no, green", "yes"]}', Q)).toEqual(["yes", "no, green", "yes"]);
    expect(parseBatchAnswers('```json\n{"1": "yes", "3": "no"}\n```', Q)).toEqual(["yes", null, "no"]);
    expect(parseBatchAnswers('[{"n": 2, "answer": false, "reason": "green"}, {"n": 1, "answer": "yes"}]', Q)).toEqual([
      "yes",
      "no, green",
      null,
    ]);
  });
});

describe("readsAsYesOrNo", () => {
  it("accepts a first word of yes or no only", () => {
    expect(readsAsYesOrNo("**Yes**, red")).toBe(true);
    expect(readsAsYesOrNo("No.")).toBe(true);
    expect(readsAsYesOrNo("Not sure")).toBe(false);
    expect(readsAsYesOrNo("")).toBe(false);
    expect(readsAsYesOrNo("Probably yes")).toBe(false);
  });
});

const reply = (content: string, reasoning: string | null = null) => ({ content, reasoning });

describe("parseFastRefinement", () => {
  it("reads the experience, the thought and the prompt", () => {
    expect(parseFastRefinement(reply("EXPERIENCE: the cube came out green.\n\nRed must come first.\nPROMPT: a red cube, red"))).toEqual({
      experience: "the cube came out green.",
      refined: { prompt: "a red cube, red", thought: "Red must come first." },
    });
  });

  it("prefers the server's reasoning channel for the thought", () => {
    expect(parseFastRefinement(reply("EXPERIENCE: green cube\nPROMPT: a red cube", "thinking")).refined).toEqual({ prompt: "a red cube", thought: "thinking" });
  });

  it("accepts markdown around the markers and a note over several lines", () => {
    const parsed = parseFastRefinement(reply("**EXPERIENCE:** the cube\nwas green\n\n**PROMPT:** a red cube"));
    expect(parsed).toEqual({ experience: "the cube was green", refined: { prompt: "a red cube", thought: null } });
  });

  it("uses the text before the prompt as the note when the marker is missing", () => {
    expect(parseFastRefinement(reply("The cube was green.\nPROMPT: a red cube"))).toEqual({
      experience: "The cube was green.",
      refined: { prompt: "a red cube", thought: "The cube was green." },
    });
  });

  it("gives no prompt when the reply has none after the experience", () => {
    expect(parseFastRefinement(reply("EXPERIENCE: green\nPROMPT:"))).toEqual({ experience: "green", refined: null });
    expect(parseFastRefinement(reply(""))).toEqual({ experience: null, refined: null });
  });
});
