import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GemsError, InputError } from "../../core/errors.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import type { SkillProblem } from "../../core/skills/types.ts";

const SHIPPED = fileURLToPath(new URL("../../skills", import.meta.url));
const SHIPPED_IDS = ["aesthetic-drawing", "creative-drawing", "spatial-layout", "text-rendering"];

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "gems-skills-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function writeSkill(id: string, text: string): Promise<string> {
  await mkdir(join(root, id), { recursive: true });
  const path = join(root, id, "SKILL.md");
  await writeFile(path, text);
  return path;
}

const validSkill = (name: string): string =>
  `# Skill: ${name}\n\n## Description\nUse for ${name}.\n\n## Instructions\nDo ${name} well.\n`;

describe("the shipped skill library", () => {
  it("loads exactly the four GEMS skills with no problems", async () => {
    const library = await loadSkillLibrary(SHIPPED);
    expect(library.problems()).toEqual([]);
    expect(library.manifest().map((skill) => skill.id)).toEqual(SHIPPED_IDS);
  });

  it("gives every skill a description short enough for the planner, with a when-not clause", async () => {
    const library = await loadSkillLibrary(SHIPPED);
    for (const skill of library.manifest()) {
      expect(skill.description.length, skill.id).toBeLessThanOrEqual(420);
      expect(skill.description, skill.id).toMatch(/\bSkip it\b/);
    }
  });

  it("describes each skill with the words a request for it would use", async () => {
    const library = await loadSkillLibrary(SHIPPED);
    const description = (id: string): string =>
      library.manifest().find((skill) => skill.id === id)?.description.toLowerCase() ?? "";
    expect(description("text-rendering")).toMatch(/\btext\b.*\bsign\b.*\bquoted\b.*\bletter/s);
    expect(description("spatial-layout")).toMatch(/\bcounts\b.*\bleft\b.*\bright\b.*\babove\b.*\bbelow\b/s);
    expect(description("aesthetic-drawing")).toMatch(/\bbeautiful\b.*\baesthetic\b.*\bcinematic lighting\b/s);
    expect(description("creative-drawing")).toMatch(/\bimaginative\b.*\bsurreal\b.*\bfantasy\b/s);
  });

  it("loads the instructions of every shipped skill", async () => {
    const library = await loadSkillLibrary(SHIPPED);
    for (const id of SHIPPED_IDS) {
      const skill = await library.load(id);
      expect(skill.instructions.length, id).toBeGreaterThan(500);
      expect(skill.instructions, id).toMatch(/### Example/);
    }
  });
});

describe("loadSkillLibrary", () => {
  it("keeps descriptions but no instructions in the manifest", async () => {
    await writeSkill("night", validSkill("Night"));
    const library = await loadSkillLibrary(root);
    expect(library.manifest()).toEqual([{ id: "night", name: "Night", description: "Use for Night." }]);
    expect(library.manifest()[0]).not.toHaveProperty("instructions");
  });

  it("sorts the manifest by id", async () => {
    await writeSkill("zebra", validSkill("Zebra"));
    await writeSkill("apple", validSkill("Apple"));
    await writeSkill("mango", validSkill("Mango"));
    const library = await loadSkillLibrary(root);
    expect(library.manifest().map((skill) => skill.id)).toEqual(["apple", "mango", "zebra"]);
  });

  it("returns the instructions when a skill is loaded", async () => {
    await writeSkill("night", validSkill("Night"));
    const library = await loadSkillLibrary(root);
    expect(await library.load("night")).toEqual({
      id: "night",
      name: "Night",
      description: "Use for Night.",
      instructions: "Do Night well.",
    });
  });

  it("reads the file again on every load, so edits after start-up are seen", async () => {
    await cp(SHIPPED, root, { recursive: true });
    const library = await loadSkillLibrary(root);
    const before = await library.load("text-rendering");
    await writeFile(
      join(root, "text-rendering", "SKILL.md"),
      "# Skill: Text Rendering\n\n## Description\nUse for text.\n\n## Instructions\nQuote it exactly.\n",
    );
    const after = await library.load("text-rendering");
    expect(before.instructions).not.toBe("Quote it exactly.");
    expect(after.instructions).toBe("Quote it exactly.");
  });

  it("fails with a storage error naming the path when a loaded skill's file has since gone bad", async () => {
    const path = await writeSkill("night", validSkill("Night"));
    const library = await loadSkillLibrary(root);
    await writeFile(path, "");
    const error = await library.load("night").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(GemsError);
    expect((error as GemsError).code).toBe("storage");
    expect((error as GemsError).message).toContain(path);
  });

  it("reads a skill written with front matter", async () => {
    await writeSkill(
      "night",
      "---\nname: Night Scenes\ndescription: >\n  Use for scenes\n  at night.\n---\nAdd moonlight.\n",
    );
    const library = await loadSkillLibrary(root);
    expect(library.manifest()).toEqual([{ id: "night", name: "Night Scenes", description: "Use for scenes at night." }]);
    expect((await library.load("night")).instructions).toBe("Add moonlight.");
  });

  it("rejects an unknown id with an InputError that lists the known ids", async () => {
    await writeSkill("beta", validSkill("Beta"));
    await writeSkill("alpha", validSkill("Alpha"));
    const library = await loadSkillLibrary(root);
    const error = await library.load("gamma").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe('Unknown skill "gamma". Known skills: alpha, beta.');
  });

  it("says no skills are known when the library is empty", async () => {
    const library = await loadSkillLibrary(root);
    await expect(library.load("any")).rejects.toThrow('Unknown skill "any". Known skills: none.');
  });

  it("answers has() for loaded skills only", async () => {
    await writeSkill("night", validSkill("Night"));
    await writeSkill("broken", "");
    const library = await loadSkillLibrary(root);
    expect([library.has("night"), library.has("broken"), library.has("day")]).toEqual([true, false, false]);
  });

  const malformed: Array<[string, string, RegExp]> = [
    ["an empty file", "", /the file is empty/],
    ["a file with no title", "## Description\nUse.\n\n## Instructions\nDo.", /no title/],
    ["front matter with no name", "---\ndescription: Use.\n---\nDo.", /no name/],
    ["a file with no description", "# Skill: Broken\n\n## Instructions\nDo.", /missing description/],
    ["a file with empty instructions", "# Skill: Broken\n\n## Description\nUse.\n\n## Instructions\n", /empty instructions/],
    [
      "a description over 1,024 characters",
      `# Skill: Broken\n\n## Description\n${"x".repeat(1025)}\n\n## Instructions\nDo.`,
      /description is 1025 characters long/,
    ],
    ["unterminated front matter", "---\nname: Broken\ndescription: Use.\nDo.", /unterminated front matter/],
  ];

  for (const [label, text, expected] of malformed) {
    it(`reports ${label} with its path and still loads the other skills`, async () => {
      await writeSkill("alpha", validSkill("Alpha"));
      const path = await writeSkill("broken", text);
      await writeSkill("omega", validSkill("Omega"));
      const logged: SkillProblem[] = [];
      const library = await loadSkillLibrary(root, { log: (problem) => logged.push(problem) });

      expect(library.manifest().map((skill) => skill.id)).toEqual(["alpha", "omega"]);
      expect(library.problems()).toHaveLength(1);
      expect(library.problems()[0]?.path).toBe(path);
      expect(library.problems()[0]?.problem).toMatch(expected);
      expect(logged).toEqual(library.problems());
    });
  }

  it("reports a folder name that is not a valid id and skips it", async () => {
    await writeSkill("night", validSkill("Night"));
    const path = await writeSkill("Bad_Name", validSkill("Bad"));
    const library = await loadSkillLibrary(root);
    expect(library.manifest().map((skill) => skill.id)).toEqual(["night"]);
    expect(library.problems()).toEqual([{ path, problem: expect.stringMatching(/"Bad_Name" is not a valid skill id/) }]);
  });

  it("reports a folder that has files but no SKILL.md", async () => {
    await mkdir(join(root, "night"));
    await writeFile(join(root, "night", "skill.txt"), "notes");
    const library = await loadSkillLibrary(root);
    expect(library.problems()).toEqual([
      { path: join(root, "night"), problem: "no SKILL.md in this folder (found: skill.txt)" },
    ]);
  });

  it("ignores empty folders, dot-folders and loose files", async () => {
    await mkdir(join(root, "empty"));
    await mkdir(join(root, ".git"));
    await writeFile(join(root, ".git", "HEAD"), "ref");
    await writeFile(join(root, "README.md"), "# Skills");
    await writeSkill("night", validSkill("Night"));
    const library = await loadSkillLibrary(root);
    expect(library.problems()).toEqual([]);
    expect(library.manifest().map((skill) => skill.id)).toEqual(["night"]);
  });

  it("follows a symlinked skill folder", async () => {
    const elsewhere = join(root, "elsewhere");
    await mkdir(join(root, "lib"));
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, "SKILL.md"), validSkill("Linked"));
    await symlink(elsewhere, join(root, "lib", "linked"));
    const library = await loadSkillLibrary(join(root, "lib"));
    expect(library.manifest().map((skill) => skill.id)).toEqual(["linked"]);
  });

  it("gives an empty library and one problem when the folder does not exist", async () => {
    const missing = join(root, "nowhere");
    const logged: SkillProblem[] = [];
    const library = await loadSkillLibrary(missing, { log: (problem) => logged.push(problem) });
    expect(library.manifest()).toEqual([]);
    expect(library.problems()).toEqual([{ path: missing, problem: expect.stringMatching(/does not exist/) }]);
    expect(logged).toHaveLength(1);
  });

  it("reports a skills path that is a file, not a folder", async () => {
    const file = join(root, "skills.md");
    await writeFile(file, "not a folder");
    const library = await loadSkillLibrary(file);
    expect(library.problems()).toEqual([{ path: file, problem: expect.stringMatching(/not a folder/) }]);
  });
});
