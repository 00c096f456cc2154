import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileSkillDefaultStore, createFileTeamSkillStore } from "../../core/skills/file-skill-store.ts";
import { createTeamSkillLibrary } from "../../core/skills/team-skills.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { call, startStudio, type StudioHarness } from "./studio-harness.ts";

const SKILL = "# Skill: Harbour Mood\n\n## Description\nUse for harbours and boats at dawn.\n\n## Instructions\nSoft mist over the water.\n";
let harness: StudioHarness;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gems-web-skills-"));
  const library = await createTeamSkillLibrary(await loadSkillLibrary(join(import.meta.dirname, "../../skills")), createFileTeamSkillStore(dir));
  harness = await startStudio({ team: { library, defaults: createFileSkillDefaultStore(dir) }, admins: ["web:ada"] });
});
afterAll(async () => {
  await harness?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("team skills in the studio", () => {
  it("an admin uploads a SKILL.md; a malformed one is a 400 naming the line; others get 403", async () => {
    const stranger = await call(harness.url, "POST", "/api/skills", { text: SKILL, name: "Bob" });
    expect(stranger.status).toBe(403);
    const bad = await call(harness.url, "POST", "/api/skills", { text: SKILL.replace("## Instructions\nSoft mist over the water.\n", "## Instructions\n"), name: "Ada" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe('The skill was not added. Line 6: empty instructions: the "## Instructions" section has no text.');
    const added = await call(harness.url, "POST", "/api/skills", { text: SKILL, name: "Ada" });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ ok: true, id: "harbour-mood", version: 1, isReplacing: false });
  });

  it("the next job uses it, and GET /api/skills shows its numbers", async () => {
    const created = await call(harness.url, "POST", "/api/jobs", { prompt: "a harbour at dawn", skill: "harbour-mood", iterations: 1, name: "Bob" });
    expect(created.status).toBe(201);
    await harness.finished(created.body.jobId);
    const listed = await call(harness.url, "GET", "/api/skills");
    const entry = listed.body.skills.find((s: { id: string }) => s.id === "harbour-mood");
    expect(entry).toMatchObject({ isTeamSkill: true, stat: { skill: "harbour-mood", jobs: 1 } });
  });

  it("a person sets and reads their default skill", async () => {
    const set = await call(harness.url, "POST", "/api/me/skill-default", { skill: "harbour-mood", name: "Bob" });
    expect(set.status).toBe(200);
    expect((await call(harness.url, "GET", "/api/me/skill-default?name=Bob")).body).toEqual({ skill: "harbour-mood" });
    expect((await call(harness.url, "GET", "/api/me/skill-default?name=Carol")).body).toEqual({ skill: "auto" });
    const unknown = await call(harness.url, "POST", "/api/me/skill-default", { skill: "oil-paint", name: "Bob" });
    expect(unknown.status).toBe(400);
  });
});
