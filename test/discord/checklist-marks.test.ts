import type { APIUser } from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HARD_PROMPT, createJob, iterationMessages, startWorld, waitForEvent, waitForFinal, type World } from "./harness.ts";

let world: World;
let alice: APIUser;
let bob: APIUser;

beforeAll(async () => {
  world = await startWorld();
  alice = world.fake.user("alice", "Alice");
  bob = world.fake.user("bob", "Bob");
});
afterAll(async () => {
  await world?.close();
});

const CHECK_LINE = /^(✅|❌) /;
const headerCount = (content: string): { passed: number; total: number } => {
  const match = /· (\d+)\/(\d+) checks passed/.exec(content.split("\n")[0] ?? "");
  if (!match) throw new Error(`no score in the header: ${content.split("\n")[0]}`);
  return { passed: Number(match[1]), total: Number(match[2]) };
};

describe("checklist marks on Discord", () => {
  it("an iteration message edited after feedback replaced a question shows it struck through, and the header counts the lines under it", async () => {
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 1 });
    const first = await waitForFinal(world.fake, threadId);
    const before = iterationMessages(world.fake, threadId)[0];
    expect(before?.content).toContain("Is the sphere purple?");

    const reply = world.fake.say(bob, threadId, "make the sphere green");
    await world.fake.waitFor(() => world.fake.messagesIn(threadId).find((m) => m.messageReference?.message_id === reply.id), "the answer to the feedback");
    await world.fake.answer(world.fake.press(alice, first, `gems:more:${jobId}`));
    // Refine more first checks iteration 1 against the new question, which edits its message.
    await waitForEvent(world, (e) => e.jobId === jobId && e.type === "verified" && e.n === 1 && e.verdicts.length > 8, "iteration 1 verified again");
    await waitForFinal(world.fake, threadId, 2);

    const edited = iterationMessages(world.fake, threadId).find((m) => m.id === before?.id);
    if (!edited) throw new Error("iteration 1's message is gone");
    expect(edited.edits).toBeGreaterThan(0);
    const lines = edited.content.split("\n");
    const { passed, total } = headerCount(edited.content);
    const checks = lines.filter((line) => CHECK_LINE.test(line));
    expect(checks).toHaveLength(total);
    expect(checks.filter((line) => line.startsWith("✅"))).toHaveLength(passed);
    expect(checks.some((line) => line.includes("Is the sphere purple?"))).toBe(false);
    expect(checks.some((line) => line.includes("Is the sphere green?"))).toBe(true);
    expect(lines).toContain("➖ ~~Is the sphere purple?~~ (replaced)");
    expect(lines[0]).toContain("1 replaced");
  });

  it("a requirement that passed in an earlier iteration and fails now is flagged as regressed, as the trajectory counts it", async () => {
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 4 });
    await waitForFinal(world.fake, threadId);
    const status = world.jobs.status(jobId);
    if (!status.ok) throw new Error(status.message);
    const t = status.job.trajectory;
    const questionOf = new Map((t.requirements ?? []).map((r) => [r.id, r.question]));
    // The sim draws a few requirements at a time, so refining for the failed ones drops some that passed.
    expect(t.iterations.some((it) => (it.regressions ?? []).length > 0)).toBe(true);
    for (const message of iterationMessages(world.fake, threadId)) {
      const n = Number(/^\*\*Iteration (\d+)/.exec(message.content)?.[1]);
      const it = t.iterations.find((i) => i.n === n);
      if (!it) throw new Error(`no iteration ${n}`);
      const flagged = message.content.split("\n").filter((line) => line.startsWith("❌ ↩"));
      expect(flagged.map((line) => line.replace(/^❌ ↩ /, "").replace(/ — \*regressed\*$/, ""))).toEqual((it.regressions ?? []).map((id) => questionOf.get(id)));
      if (flagged.length > 0) expect(message.content.split("\n")[0]).toContain(`${flagged.length} regressed`);
      // The `verified` event carries them, so no surface has to derive them.
      const verified = world.events.filter((e) => e.jobId === jobId && e.type === "verified" && e.n === n).at(-1);
      expect(verified?.type === "verified" && verified.regressions).toEqual(it.regressions);
    }
  });
});
