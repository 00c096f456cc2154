import { describe, expect, it } from "vitest";
import { slashCommand } from "../fakes/slack/payloads.ts";
import { CHANNEL, EASY_PROMPT, alice, imageReplies, startHarness, waitForCard, waitForFinal } from "./harness.ts";

describe("the wire to Slack", () => {
  it("rejects a request with a bad signature with 401, and nothing happens", async () => {
    const { fake, jobs, sender } = await startHarness();

    const forged = await sender.command(slashCommand(fake, EASY_PROMPT, alice, CHANNEL), { secret: "not-the-signing-secret" });
    const unsigned = await sender.command(slashCommand(fake, EASY_PROMPT, alice, CHANNEL), { signature: "v0=" + "0".repeat(64) });

    expect(forged.status).toBe(401);
    expect(unsigned.status).toBe(401);
    // A good request afterwards is answered, so the bad ones had their turn and did nothing.
    await sender.command(slashCommand(fake, "help", alice, CHANNEL));
    await fake.waitFor("the help answer", () => fake.responses[0]);
    expect(fake.responses).toHaveLength(1);
    expect(jobs.list()).toEqual([]);
    expect(fake.calls.map((c) => c.method)).toEqual(["auth.test", "response_url"]);
  });

  it("rejects a correctly signed request that is more than five minutes old", async () => {
    const { fake, jobs, sender } = await startHarness();

    const replayed = await sender.command(slashCommand(fake, EASY_PROMPT, alice, CHANNEL), { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });

    expect(replayed.status).toBe(401);
    expect(jobs.list()).toEqual([]);
  });

  it("retries a call Slack answered with ratelimited after its Retry-After, and the job goes on", async () => {
    const { fake, command } = await startHarness();
    fake.inject("chat.postMessage", { rateLimited: { retryAfterSec: 1 } });

    await command(`${EASY_PROMPT} --iterations 1`);

    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    const [limited, retried] = fake.callsOf("chat.postMessage");
    expect(limited).toMatchObject({ status: 429, response: { ok: false, error: "ratelimited" } });
    expect(retried).toMatchObject({ status: 200, args: { channel: CHANNEL, text: limited!.args.text } });
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(1000);
    expect(imageReplies(fake, card)).toHaveLength(1);
  });

  it("retries an upload the upload URL failed with a server error", async () => {
    const { fake, command } = await startHarness();
    fake.inject("upload", { status: 500 });

    await command(`${EASY_PROMPT} --iterations 1`);

    const card = await waitForCard(fake);
    await waitForFinal(fake, card);
    expect(fake.callsOf("upload").map((c) => c.status)).toEqual([500, 200]);
    expect(imageReplies(fake, card)).toHaveLength(1);
  });
});
