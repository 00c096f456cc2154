import { describe, expect, it } from "vitest";
import { parseGemsCommand } from "../../bots/slack/command-text.ts";

describe("the /gems command text", () => {
  it("alone, or only spaces, opens the modal", () => {
    expect(parseGemsCommand("")).toEqual({ kind: "modal" });
    expect(parseGemsCommand("   ")).toEqual({ kind: "modal" });
  });

  it("skills and help are subcommands, in any case", () => {
    expect(parseGemsCommand("Skills")).toEqual({ kind: "skills" });
    expect(parseGemsCommand(" help ")).toEqual({ kind: "help" });
  });

  it("takes options anywhere, with a space or an equals sign", () => {
    expect(parseGemsCommand("--skill none a red cube --iterations=4")).toEqual({ kind: "create", prompt: "a red cube", skill: "none", iterations: 4 });
  });

  it("keeps a prompt that only starts like a subcommand", () => {
    expect(parseGemsCommand("help me draw a cat")).toMatchObject({ kind: "create", prompt: "help me draw a cat" });
  });

  it("unescapes Slack's entities and straightens curly quotes", () => {
    expect(parseGemsCommand("a sign that says “OPEN &amp; CLOSED” &lt;3")).toMatchObject({ prompt: 'a sign that says "OPEN & CLOSED" <3' });
  });

  it("says which option lacks its value", () => {
    expect(parseGemsCommand("a cat --iterations")).toEqual({ kind: "invalid", message: "The option --iterations needs a value, e.g. --iterations 3." });
  });
});
