import { describe, expect, it } from "vitest";
import { MAX_DESCRIPTION_CHARS, parseSkillFile } from "../../core/skills/parse-skill.ts";

const gems = (description: string, instructions: string, title = "# Skill: Night Scenes"): string =>
  `${title}\n\n## Description\n${description}\n\n## Instructions\n${instructions}\n`;

describe("parseSkillFile, GEMS format", () => {
  it("reads the name from the title and the two sections", () => {
    const skill = parseSkillFile("night-scenes", gems("Use for night scenes.", "Add moonlight."));
    expect(skill).toEqual({
      id: "night-scenes",
      name: "Night Scenes",
      description: "Use for night scenes.",
      instructions: "Add moonlight.",
    });
  });

  it("keeps every sub-heading below Instructions as part of the instructions", () => {
    const body = "Intro.\n\n### Keep\n- the moon\n\n## Example\nA moonlit lake.";
    const skill = parseSkillFile("night", gems("Use at night.", body));
    expect(skill.instructions).toBe(body);
  });

  it("ignores section headings inside fenced code in the description", () => {
    const description = "Use at night.\n\n```\n## Instructions\nnot really\n```";
    const skill = parseSkillFile("night", gems(description, "Add stars."));
    expect(skill.description).toBe(description);
    expect(skill.instructions).toBe("Add stars.");
  });

  it("accepts Windows line endings and a byte-order mark", () => {
    const text = `\uFEFF${gems("Use at night.", "Add stars.")}`.replace(/\n/g, "\r\n");
    expect(parseSkillFile("night", text).name).toBe("Night Scenes");
  });

  it("rejects an empty file", () => {
    expect(() => parseSkillFile("night", " \n\n")).toThrow("the file is empty");
  });

  it("rejects a file without a title", () => {
    expect(() => parseSkillFile("night", "## Description\nUse.\n## Instructions\nDo.")).toThrow(/no title/);
  });

  it("rejects a title that does not read Skill: <Name>", () => {
    expect(() => parseSkillFile("night", gems("Use.", "Do.", "# Night Scenes"))).toThrow(
      'the title "# Night Scenes" must read "# Skill: <Name>"',
    );
  });

  it("rejects a title with no name", () => {
    expect(() => parseSkillFile("night", gems("Use.", "Do.", "# Skill:"))).toThrow(/no name/);
  });

  it("rejects a file without a Description section", () => {
    expect(() => parseSkillFile("night", "# Skill: Night\n\n## Instructions\nDo.")).toThrow(/missing description/);
  });

  it("rejects a Description that is empty", () => {
    expect(() => parseSkillFile("night", gems("  ", "Do."))).toThrow(/"## Description" section is empty/);
  });

  it("treats a Description placed below Instructions as missing", () => {
    const text = "# Skill: Night\n\n## Instructions\nDo.\n\n## Description\nUse.";
    expect(() => parseSkillFile("night", text)).toThrow(/missing description/);
  });

  it("rejects a file without an Instructions section", () => {
    expect(() => parseSkillFile("night", "# Skill: Night\n\n## Description\nUse.")).toThrow(/missing instructions/);
  });

  it("rejects empty instructions", () => {
    expect(() => parseSkillFile("night", gems("Use.", "\n\n"))).toThrow(/empty instructions/);
  });

  it("rejects another section between Description and Instructions rather than dropping it", () => {
    const text = "# Skill: Night\n\n## Description\nUse.\n\n## Notes\nImportant.\n\n## Instructions\nDo.";
    expect(() => parseSkillFile("night", text)).toThrow(/unexpected section "## Notes"/);
  });

  it("rejects a description longer than the planner's budget", () => {
    const long = "word ".repeat(Math.ceil(MAX_DESCRIPTION_CHARS / 5) + 1).trim();
    expect(() => parseSkillFile("night", gems(long, "Do."))).toThrow(/keep it within 1024/);
  });

  it("accepts a description of exactly the maximum length", () => {
    const exact = "a".repeat(MAX_DESCRIPTION_CHARS);
    expect(parseSkillFile("night", gems(exact, "Do.")).description).toHaveLength(MAX_DESCRIPTION_CHARS);
  });
});

describe("parseSkillFile, front-matter format", () => {
  it("reads name, a folded description and the body as instructions", () => {
    const text = [
      "---",
      "name: night-scenes",
      "description: >",
      "  Use for scenes at night,",
      "  under moon or street light.",
      "",
      "  Not for daylight.",
      "license: MIT",
      "---",
      "# Night scenes",
      "",
      "Add moonlight.",
    ].join("\n");
    expect(parseSkillFile("night-scenes", text)).toEqual({
      id: "night-scenes",
      name: "night-scenes",
      description: "Use for scenes at night, under moon or street light.\nNot for daylight.",
      instructions: "# Night scenes\n\nAdd moonlight.",
    });
  });

  it("keeps the line breaks of a literal description block", () => {
    const text = "---\nname: Night\ndescription: |-\n  First line.\n  Second line.\n---\nDo.";
    expect(parseSkillFile("night", text).description).toBe("First line.\nSecond line.");
  });

  it("unquotes double- and single-quoted values", () => {
    const text = `---\nname: 'Night''s Edge'\ndescription: "Use when \\"dark\\" is asked: moon, stars."\n---\nDo.`;
    const skill = parseSkillFile("night", text);
    expect(skill.name).toBe("Night's Edge");
    expect(skill.description).toBe('Use when "dark" is asked: moon, stars.');
  });

  it("joins a plain description that wraps onto indented lines", () => {
    const text = "---\nname: Night\ndescription: Use for night\n  and for dusk.\n---\nDo.";
    expect(parseSkillFile("night", text).description).toBe("Use for night and for dusk.");
  });

  it("ignores nested keys it does not use", () => {
    const text = "---\nname: Night\nmetadata:\n  version: 2\n  tags: [a, b]\ndescription: Use.\n---\nDo.";
    expect(parseSkillFile("night", text).description).toBe("Use.");
  });

  it("rejects front matter that is never closed", () => {
    expect(() => parseSkillFile("night", "---\nname: Night\ndescription: Use.\n\nDo.")).toThrow(
      /unterminated front matter/,
    );
  });

  it("rejects front matter without a name", () => {
    expect(() => parseSkillFile("night", "---\ndescription: Use.\n---\nDo.")).toThrow(/no name/);
  });

  it("rejects front matter without a description", () => {
    expect(() => parseSkillFile("night", "---\nname: Night\n---\nDo.")).toThrow(/missing description/);
  });

  it("rejects front matter with nothing after it", () => {
    expect(() => parseSkillFile("night", "---\nname: Night\ndescription: Use.\n---\n\n")).toThrow(
      /empty instructions/,
    );
  });

  it("rejects a line that is not key: value, naming its line number", () => {
    expect(() => parseSkillFile("night", "---\nname: Night\njust words\n---\nDo.")).toThrow(
      /front matter line 3 is not a "key: value" line/,
    );
  });

  it("rejects an unclosed quoted value", () => {
    expect(() => parseSkillFile("night", '---\nname: "Night\ndescription: Use.\n---\nDo.')).toThrow(
      /quoted value of "name" is not closed/,
    );
  });

  it("rejects a description longer than the planner's budget", () => {
    const text = `---\nname: Night\ndescription: ${"a".repeat(MAX_DESCRIPTION_CHARS + 1)}\n---\nDo.`;
    expect(() => parseSkillFile("night", text)).toThrow(/is 1025 characters long/);
  });
});
