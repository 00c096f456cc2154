import { describe, expect, it } from "vitest";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { MllmRequest, Mllm } from "../../core/models/ports.ts";
import { silentLogger } from "../../core/logger.ts";
import { createFileSkillDefaultStore, createFileTeamSkillStore } from "../../core/skills/file-skill-store.ts";
import { MAX_SKILL_BYTES, createTeamSkillLibrary, skillIdOf, validateSkillText } from "../../core/skills/team-skills.ts";
import { setSkillDefault, withSkillDefaults } from "../../core/jobs/skill-defaults.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";
import { alice, bob, makeService, recordSurface, skills, submitted, tempDir, thread } from "../jobs/job-harness.ts";

const MARKER = "Paint every shadow in ultramarine-7731";
const WATERCOLOUR = `# Skill: Watercolour Wash

## Description
Use when the request asks for a watercolour look.

## Instructions
${MARKER}. Keep paper texture visible.
`;

describe("validating a SKILL.md sent from chat", () => {
  it("names the wrong line", () => {
    const badTitle = validateSkillText("# Watercolour\n\n## Description\nx\n\n## Instructions\ny\n");
    expect(badTitle).toEqual({ ok: false, message: expect.stringContaining('Line 1: the title "# Watercolour" must read "# Skill: <Name>"') });
    const stray = validateSkillText("# Skill: W\n\n## Description\nx\n\n## Notes\nz\n\n## Instructions\ny\n");
    expect(stray).toEqual({ ok: false, message: expect.stringContaining('Line 6: unexpected section "## Notes"') });
    const emptyInstructions = validateSkillText("# Skill: W\n## Description\nx\n## Instructions\n\n");
    expect(emptyInstructions).toEqual({ ok: false, message: expect.stringContaining("Line 4: empty instructions") });
    const frontMatter = validateSkillText("---\nname: w\nthis is not yaml\n---\nbody\n");
    expect(frontMatter).toEqual({ ok: false, message: expect.stringContaining("Line 3: front matter line 3") });
  });

  it("refuses files over the size limit and files that are not text", () => {
    const big = validateSkillText(WATERCOLOUR + "x".repeat(MAX_SKILL_BYTES));
    expect(big).toEqual({ ok: false, message: expect.stringMatching(/the limit is 32 KB/) });
    expect(validateSkillText("# Skill: W\u0000")).toMatchObject({ ok: false, message: expect.stringContaining("not text") });
  });

  it("derives the id from the name", () => {
    expect(skillIdOf("Watercolour Wash!")).toBe("watercolour-wash");
    expect(skillIdOf("Crème Brûlée  Style")).toBe("creme-brulee-style");
  });
});

describe("the team library", () => {
  it("stores every version, replaces at once, and survives a restart", async () => {
    const dir = await tempDir();
    const library = await createTeamSkillLibrary(await skills(), createFileTeamSkillStore(dir));
    const first = await library.add(WATERCOLOUR, "discord:99");
    expect(first).toEqual({ ok: true, id: "watercolour-wash", name: "Watercolour Wash", version: 1, isReplacing: false });
    expect(library.has("watercolour-wash")).toBe(true);
    expect((await library.load("watercolour-wash")).instructions).toContain(MARKER);

    const second = await library.add(WATERCOLOUR.replace(MARKER, "Use cobalt"), "discord:99");
    expect(second).toMatchObject({ ok: true, version: 2, isReplacing: true });
    expect((await library.load("watercolour-wash")).instructions).toContain("Use cobalt");
    expect(await readdir(join(dir, "team-skills", "watercolour-wash"))).toEqual(expect.arrayContaining(["v0001.md", "v0002.md", "history.jsonl"]));
    expect(await readFile(join(dir, "team-skills", "watercolour-wash", "v0001.md"), "utf8")).toContain(MARKER);

    const refused = await library.add("# Skill: Broken\n## Description\nx\n", "discord:99");
    expect(refused).toMatchObject({ ok: false });
    expect((await library.load("watercolour-wash")).instructions).toContain("Use cobalt");

    // A bundled skill may be replaced by the team's version of the same name.
    const replaced = await library.add("# Skill: Spatial Layout\n## Description\nTeam layout.\n## Instructions\nOurs.\n", "discord:99");
    expect(replaced).toMatchObject({ ok: true, id: "spatial-layout", isReplacing: true });
    expect((await library.load("spatial-layout")).instructions).toBe("Ours.");

    const restarted = await createTeamSkillLibrary(await skills(), createFileTeamSkillStore(dir));
    expect(restarted.manifest().map((s) => s.id)).toContain("watercolour-wash");
    expect((await restarted.load("watercolour-wash")).instructions).toContain("Use cobalt");
    expect((await createFileTeamSkillStore(dir).versions("watercolour-wash")).map((v) => [v.version, v.by])).toEqual([
      [1, "discord:99"],
      [2, "discord:99"],
    ]);
  });

  it("a skill added while the service runs is used by the next job, and a person's default applies to jobs that name none", async () => {
    const dir = await tempDir();
    const library = await createTeamSkillLibrary(await skills(), createFileTeamSkillStore(dir));
    const sim = createSimMllm();
    const seen: MllmRequest[] = [];
    const mllm: Mllm = { name: sim.name, chat: (request) => (seen.push(request), sim.chat(request)) };
    const service = await makeService({ skills: library, mllm });
    const defaults = createFileSkillDefaultStore(dir);
    const jobs = withSkillDefaults(service, { defaults, skills: library, logger: silentLogger });
    const surface = recordSurface(service, "test", { isAllJobs: true });
    await service.start();

    expect(await library.add(WATERCOLOUR, "discord:99")).toMatchObject({ ok: true });
    expect(await setSkillDefault({ defaults, skills: library }, alice.id, "Watercolour-Wash")).toEqual({ ok: true, message: "Your jobs that name no skill now use the skill watercolour-wash." });
    expect(await setSkillDefault({ defaults, skills: library }, bob.id, "oil-paint")).toMatchObject({ ok: false, message: expect.stringContaining('Unknown skill "oil-paint"') });

    const jobId = submitted(await jobs.submit({ prompt: "a harbour at dawn", iterations: 1 }, alice, thread));
    await surface.finished(jobId);
    const status = service.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.request.skill).toBe("watercolour-wash");
    expect(status.job.trajectory.plan?.skill).toBe("watercolour-wash");
    expect(JSON.stringify(seen)).toContain(MARKER);

    // Bob has no default: auto, as before.
    const other = submitted(await jobs.submit({ prompt: "a harbour at dawn", iterations: 1 }, bob, thread));
    await surface.finished(other);
    const otherStatus = service.status(other);
    expect(otherStatus.ok && otherStatus.job.trajectory.request.skill).toBe("auto");
    // The default is stored per person, on disk.
    expect(JSON.parse(await readFile(join(dir, "skill-defaults.json"), "utf8"))).toEqual({ [alice.id]: "watercolour-wash" });
  });
});
