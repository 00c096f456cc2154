import { describe, expect, it } from "vitest";
import {
  EASY_PROMPT,
  HARD_PROMPT,
  createJob,
  finalMessages,
  hasAction,
  iterationMessages,
  iterationNumberOf,
  statusMessage,
  waitForFinal,
  type CreatedJob,
  type Gate,
  type World,
} from "./harness.ts";
import { shareGatedWorld } from "./shared-world.ts";
import type { APIUser } from "discord.js";

let world: World;
let gate: Gate;
let alice: APIUser;
let bob: APIUser;
shareGatedWorld({}, (shared) => ({ world, gate, alice, bob } = shared));

/** A job of Alice's that finished iteration 1 and waits to generate iteration 2. */
async function jobHeldAtIteration2(): Promise<CreatedJob> {
  const base = gate.calls;
  const job = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 3 });
  await gate.arrived(base + 1);
  gate.releaseWaiting();
  await gate.arrived(base + 2);
  await world.fake.waitFor(() => iterationMessages(world.fake, job.threadId)[0], "iteration 1's message");
  return job;
}

function statusOf(jobId: string) {
  const status = world.jobs.status(jobId);
  if (!status.ok) throw new Error(status.message);
  return status.job;
}

describe("buttons", () => {
  it("Stop on the status message stops a running job, which keeps its best image", async () => {
    const { jobId, threadId } = await jobHeldAtIteration2();
    const status = statusMessage(world.fake, threadId);
    if (!status) throw new Error("no status message");
    expect(hasAction(status, "stop")).toBe(true);

    const answer = await world.fake.answer(world.fake.press(alice, status, `gems:stop:${jobId}`));

    expect(answer).toMatchObject({ isEphemeral: true, content: "⏹️ Stopped. The best image so far is posted in the thread." });
    const final = await waitForFinal(world.fake, threadId);
    expect(final.content).toMatch(/⏹️ \*\*Stopped\.\*\* Best so far: iteration 1 \(\d+\/\d+ checks\)\./);
    expect(final.files.map((f) => f.filename)).toEqual(["best-iteration-1.png"]);
    expect(statusOf(jobId).status).toBe("cancelled");
    await world.fake.waitFor(() => statusMessage(world.fake, threadId)?.components.length === 0, "Stop to leave the status message");
  });

  it("a stranger's Stop, Use this and Refine more each get a private explanation and change nothing", async () => {
    const { jobId, threadId } = await jobHeldAtIteration2();
    const status = statusMessage(world.fake, threadId);
    const [iteration1] = iterationMessages(world.fake, threadId);
    if (!status || !iteration1) throw new Error("missing messages");

    const stop = await world.fake.answer(world.fake.press(bob, status, `gems:stop:${jobId}`));
    const pick = await world.fake.answer(world.fake.press(bob, iteration1, `gems:pick:${jobId}:1`));
    const more = await world.fake.answer(world.fake.press(bob, iteration1, `gems:more:${jobId}`));

    expect(stop).toMatchObject({ isEphemeral: true, content: "Only Alice or an admin can stop this job." });
    expect(pick).toMatchObject({ isEphemeral: true, content: "Only Alice or an admin can pick the result of this job." });
    expect(more).toMatchObject({ isEphemeral: true, content: "Only Alice or an admin can continue this job." });
    expect(statusOf(jobId).status).toBe("running");
    await world.jobs.cancel(jobId, { id: `discord:${alice.id}`, name: "Alice" });
  });

  it("Use this on an iteration's message makes that image the result", async () => {
    const { jobId, threadId } = await jobHeldAtIteration2();
    const [iteration1] = iterationMessages(world.fake, threadId);
    if (!iteration1) throw new Error("no iteration message");

    const answer = await world.fake.answer(world.fake.press(alice, iteration1, `gems:pick:${jobId}:1`));

    expect(answer.content).toBe("📌 Iteration 1 is the result.");
    const final = await waitForFinal(world.fake, threadId);
    expect(final.content).toMatch(/📌 \*\*Done\*\* — iteration 1 \(\d+\/\d+ checks\) is the result\./);
    expect(final.files.map((f) => f.filename)).toEqual(["best-iteration-1.png"]);
    // Already picked: only Refine more is left.
    expect(hasAction(final, "pick")).toBe(false);
    expect(hasAction(final, "more")).toBe(true);
    expect(statusOf(jobId)).toMatchObject({ status: "done", stopReason: "picked", best: { n: 1 } });
  });

  it("Refine more runs more iterations from the job's memory and posts a new result", async () => {
    gate.open();
    const { jobId, threadId } = await createJob(world, alice, { prompt: HARD_PROMPT, iterations: 1 });
    const first = await waitForFinal(world.fake, threadId);

    const answer = await world.fake.answer(world.fake.press(alice, first, `gems:more:${jobId}`));

    expect(answer.content).toBe("🔁 Refining: up to 2 more attempts.");
    const second = await waitForFinal(world.fake, threadId, 2);
    expect(iterationMessages(world.fake, threadId).map(iterationNumberOf)).toEqual([1, 2, 3]);
    expect(second.content).toMatch(/🏁 \*\*Done\*\* — 3 iterations/);
    // The first attempt's message now shows the prompt the second one used.
    expect(iterationMessages(world.fake, threadId)[0]?.embeds[1]).toMatchObject({ title: "Next prompt (iteration 2)" });
    // Continuing is not a restart.
    expect(world.fake.messagesIn(threadId).some((m) => m.content.startsWith("🔁"))).toBe(false);
    expect(finalMessages(world.fake, threadId)).toHaveLength(2);
  });

  it("Refine more on a job whose every check passed says to add feedback first", async () => {
    gate.open();
    const { threadId, jobId } = await createJob(world, alice, { prompt: EASY_PROMPT });
    const final = await waitForFinal(world.fake, threadId);

    const answer = await world.fake.answer(world.fake.press(alice, final, `gems:more:${jobId}`));

    expect(answer.content).toBe("Every requirement already passed on iteration 1. Add feedback saying what to change, then continue.");
  });
});
