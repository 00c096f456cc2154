import { describe, expect, it } from "vitest";
import { readdir } from "node:fs/promises";
import { createFileSkillDefaultStore, createFileTeamSkillStore } from "../../core/skills/file-skill-store.ts";
import { createTeamSkillLibrary } from "../../core/skills/team-skills.ts";
import { startFakeSlack } from "../fakes/slack/fake-slack.ts";
import { CHANNEL, admin, alice, bundledSkills, onCleanup, onlyJobId, startHarness, waitForCard, waitForFinal } from "./harness.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SKILL = `---
name: Harbour Mood
description: Use for harbours and boats at dawn.
---
Soft mist over the water, masts in silhouette.
`;

async function world() {
  const dir = await mkdtemp(join(tmpdir(), "gems-slack-skills-"));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  const fake = await startFakeSlack();
  onCleanup(() => fake.close());
  const library = await createTeamSkillLibrary(await bundledSkills(), createFileTeamSkillStore(dir));
  const harness = await startHarness({ fake, team: { library, defaults: createFileSkillDefaultStore(dir), admins: [`slack:${fake.teamId}:${admin.id}`] } });
  const answers = () => fake.responses.map((r) => String(r.body?.text ?? ""));
  const answer = async (text: string, user = alice) => {
    const before = fake.responses.length;
    await harness.command(text, user);
    return fake.waitFor(`an answer to /gems ${text}`, () => fake.responses[before]);
  };
  return { dir, fake, harness, answers, answer };
}

describe("team skills on Slack", () => {
  it("an admin's shared SKILL.md, added with /gems skill add, is used by the next job; a stranger is refused", async () => {
    const { fake, harness, answer } = await world();
    fake.addUserFile({ user: admin.id, channel: CHANNEL, filename: "SKILL.md", bytes: new TextEncoder().encode(SKILL) });

    const refused = await answer("skill add", alice);
    expect(refused.body).toMatchObject({ response_type: "ephemeral", text: "Only admins (GEMS_ADMINS) can add skills. Ask one to add it." });
    expect(fake.fileReads).toEqual([]);

    const added = await answer("skill add", admin);
    expect(added.body.response_type).toBe("ephemeral");
    expect(added.body.text).toContain("Skill *Harbour Mood* (`harbour-mood`) added from SKILL.md: version 1.");
    expect(fake.callsOf("files.list")[0]?.args).toMatchObject({ channel: CHANNEL, user: admin.id });

    await harness.command("a harbour at dawn --skill harbour-mood --iterations 1", alice);
    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const status = harness.jobs.status(onlyJobId(harness.jobs));
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.plan?.skill).toBe("harbour-mood");

    const listed = await answer("skills", alice);
    expect(listed.body.text).toContain("`harbour-mood` *Harbour Mood* (team): Use for harbours and boats at dawn.\n    ↳ 1 job, ");
  });

  it("a malformed SKILL.md is refused with the wrong line; with nothing shared, it says what to do", async () => {
    const { fake, dir, answer } = await world();
    expect((await answer("skill add", admin)).body.text).toBe("Share the SKILL.md in this channel first (drag it into the message box), then run `/gems skill add` again.");
    fake.addUserFile({ user: admin.id, channel: CHANNEL, filename: "SKILL.md", bytes: new TextEncoder().encode(SKILL.replace("name: Harbour Mood", "name Harbour Mood")) });
    const refused = await answer("skill add", admin);
    expect(refused.body.text).toBe('The skill was not added. Line 2: front matter line 2 is not a "key: value" line: name Harbour Mood.');
    expect(await readdir(dir)).not.toContain("team-skills");
  });

  it("/gems skill default sets the person's default, which the next job without --skill uses", async () => {
    const { harness, answer, fake } = await world();
    expect((await answer("skill default spatial-layout", alice)).body.text).toBe("Your jobs that name no skill now use the skill spatial-layout.");
    expect((await answer("skill default", alice)).body.text).toContain("Name one skill");
    await harness.command("a harbour at dawn --iterations 1", alice);
    await waitForFinal(fake, await waitForCard(fake));
    const status = harness.jobs.status(onlyJobId(harness.jobs));
    if (!status.ok) throw new Error(status.message);
    expect(status.job.trajectory.request.skill).toBe("spatial-layout");
  });
});
