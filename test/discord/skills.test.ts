import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { APIUser } from "discord.js";
import { createFileSkillDefaultStore, createFileTeamSkillStore } from "../../core/skills/file-skill-store.ts";
import { createTeamSkillLibrary } from "../../core/skills/team-skills.ts";
import { startFakeDiscord, type FakeDiscord } from "../fakes/discord/fake-discord.ts";
import { createJob, skills, startWorld, waitForFinal, type World } from "./harness.ts";

const SKILL = `# Skill: Harbour Mood

## Description
Use for harbours and boats at dawn.

## Instructions
Soft mist over the water, masts in silhouette.
`;

let fake: FakeDiscord;
let world: World;
let dir: string;
let ada: APIUser;
let bob: APIUser;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gems-discord-skills-"));
  fake = await startFakeDiscord();
  ada = fake.user("ada", "Ada");
  bob = fake.user("bob", "Bob");
  const library = await createTeamSkillLibrary(await skills(), createFileTeamSkillStore(dir));
  world = await startWorld({ fake, team: { library, defaults: createFileSkillDefaultStore(dir), admins: [`discord:${ada.id}`] } });
});
afterAll(async () => {
  await world?.close();
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

async function addSkill(user: APIUser, filename: string, text: string) {
  const file = fake.attachment(filename, new TextEncoder().encode(text), { contentType: "text/markdown; charset=utf-8" });
  return { answer: await fake.answer(fake.command(user, "skill add", {}, undefined, { file })), file };
}

describe("team skills on Discord", () => {
  it("a stranger's /gems skill add is refused without downloading the file", async () => {
    const { answer, file } = await addSkill(bob, "SKILL.md", SKILL);
    expect(answer).toMatchObject({ isEphemeral: true, content: "Only admins (GEMS_ADMINS) can add skills. Ask one to add it." });
    expect(fake.downloads.filter((d) => d.path.includes(file.id))).toEqual([]);
  });

  it("a malformed SKILL.md is refused with the line that is wrong, and nothing is stored", async () => {
    const { answer } = await addSkill(ada, "SKILL.md", SKILL.replace("# Skill: Harbour Mood", "# Harbour Mood"));
    expect(answer.isEphemeral).toBe(true);
    expect(answer.content).toBe('The skill was not added. Line 1: the title "# Harbour Mood" must read "# Skill: <Name>".');
    expect(await readdir(dir)).not.toContain("team-skills");
  });

  it("an admin's SKILL.md is used by the next job without a restart, and is listed with its numbers", async () => {
    const { answer } = await addSkill(ada, "SKILL.md", SKILL);
    expect(answer).toMatchObject({ isEphemeral: true });
    expect(answer.content).toContain("Skill **Harbour Mood** (`harbour-mood`) added — version 1.");

    const { jobId, threadId } = await createJob(world, bob, { prompt: "a harbour at dawn", skill: "harbour-mood", iterations: 1 });
    await waitForFinal(fake, threadId);
    const status = world.jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.plan?.skill).toBe("harbour-mood");

    const listed = await fake.answer(fake.command(bob, "skills"));
    expect(listed.isEphemeral).toBe(true);
    const description = String(listed.embeds[0]?.description ?? "");
    expect(description).toContain("**Harbour Mood** (`harbour-mood` · team)");
    expect(description).toMatch(/harbour-mood` · team\) — Use for harbours and boats at dawn\.\n {2}↳ 1 job, \d+% all passed/);
  });

  it("/gems skill default sets a person's skill for the jobs that name none", async () => {
    const answer = await fake.answer(fake.command(bob, "skill default", { skill: "harbour-mood" }));
    expect(answer).toMatchObject({ isEphemeral: true, content: "Your jobs that name no skill now use the skill harbour-mood." });
    const unknown = await fake.answer(fake.command(bob, "skill default", { skill: "oil-paint" }));
    expect(unknown.content).toContain('Unknown skill "oil-paint"');
  });
});
