import { describe, expect, it } from "vitest";
import { customIdOf, parseCustomId } from "../../bots/discord/buttons.ts";
import { gemsCommand } from "../../bots/discord/commands.ts";
import { FeedbackInbox } from "../../bots/discord/feedback.ts";
import { fitUpload } from "../../bots/discord/image-fit.ts";
import { readImageInfo } from "../../core/images/sharp-images.ts";
import { applyEvent, createJobView, type JobView } from "../../bots/discord/job-view.ts";
import { nonceOf } from "../../bots/discord/job-threads.ts";
import { DISCORD_LIMITS, truncate } from "../../bots/discord/limits.ts";
import { maskUrl } from "../../bots/discord/log-safe.ts";
import { renderFeedbackNote, renderFinal, renderIteration, renderPlan, renderStatus, threadNameOf } from "../../bots/discord/render.ts";
import type { AgentEvent, JobEvent } from "../../core/agent/events.ts";
import { PROMPT_MAX_CHARS } from "../../core/agent/request.ts";
import { decodePng } from "../../core/images/png.ts";
import { noisePng } from "../fakes/png-fixture.ts";

const HASH = "a".repeat(64);
let seq = 0;
const stamp = (event: AgentEvent): JobEvent => ({ ...event, jobId: "job1", seq: ++seq, at: "2030-01-01T00:00:00.000Z" }) as JobEvent;

/** A view of a job whose every text is as long as people and models can make it. */
function hugeView(): JobView {
  const long = "🎨".repeat(PROMPT_MAX_CHARS);
  const view = createJobView("job1", { id: "discord:42", name: "x".repeat(200) }, long, 10);
  const questions = Array.from({ length: 60 }, (_, i) => ({ id: i + 1, question: `${"Is it really ".repeat(30)}${i}?`, source: "prompt" as const }));
  for (const event of [
    { type: "job.started", resumed: false },
    { type: "plan.done", skill: "spatial-layout", prompt: long, why: long },
    { type: "requirements", questions },
    { type: "iteration.started", n: 1, prompt: long, thought: long },
    { type: "image.ready", n: 1, image: { hash: HASH } },
    { type: "verified", n: 1, verdicts: questions.map((q) => ({ requirementId: q.id, passed: q.id % 2 === 0, answer: "no" })), passed: 30, total: 60 },
    { type: "experience", n: 1, text: long },
    { type: "prompt.refined", n: 2, prompt: long, thought: long },
    { type: "job.done", best: { n: 1, image: { hash: HASH }, passed: 30, total: 60 }, reason: "max-iterations" },
  ] satisfies AgentEvent[]) {
    applyEvent(view, stamp(event));
  }
  return view;
}

function embedChars(embeds: any[] = []): number {
  return embeds.reduce(
    (sum, e) => sum + (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.fields ?? []).reduce((n: number, f: any) => n + f.name.length + f.value.length, 0),
    0,
  );
}

describe("rendering stays within Discord's limits", () => {
  it("the longest prompt, checklist and reasoning still fit one message each", () => {
    const view = hugeView();
    for (const message of [renderStatus(view), renderPlan(view), renderIteration(view, 1, { withImage: true }), renderFinal(view)]) {
      expect(message.body.content?.length ?? 0).toBeLessThanOrEqual(DISCORD_LIMITS.messageContent);
      expect(embedChars(message.body.embeds)).toBeLessThanOrEqual(DISCORD_LIMITS.embedTotal);
      for (const embed of message.body.embeds ?? []) {
        expect(embed.description?.length ?? 0).toBeLessThanOrEqual(DISCORD_LIMITS.embedDescription);
        for (const field of embed.fields ?? []) expect(field.value.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedFieldValue);
      }
    }
    expect(threadNameOf(view.prompt).length).toBeLessThanOrEqual(DISCORD_LIMITS.threadName);
  });

  it("a feedback note fits however long the feedback and its questions are", () => {
    const view = hugeView();
    const event = stamp({
      type: "feedback.added",
      author: "y".repeat(300),
      text: "z".repeat(2000),
      questions: Array.from({ length: 40 }, (_, i) => ({ id: 100 + i, question: "q".repeat(300), source: "feedback" as const })),
      retired: [],
    }) as Extract<JobEvent, { type: "feedback.added" }>;

    expect(renderFeedbackNote(view, event, "123").body.content?.length).toBeLessThanOrEqual(DISCORD_LIMITS.messageContent);
  });

  it("truncation never splits an emoji", () => {
    const cut = truncate("🎨".repeat(10), 6);
    expect(cut).toBe("🎨🎨…");
    expect(cut.length).toBeLessThanOrEqual(6);
  });

  it("prompts cannot ping anyone; only the result mentions the requester", () => {
    const view = hugeView();
    expect(renderIteration(view, 1, { withImage: false }).body.allowed_mentions).toEqual({ parse: [] });
    expect(renderStatus(view).body.allowed_mentions).toEqual({ parse: [] });
    expect(renderFinal(view).body.allowed_mentions).toEqual({ parse: [], users: ["42"] });
  });

  it("button ids carry the job and iteration, within 100 characters, and foreign ids are ignored", () => {
    const id = customIdOf({ kind: "pick", jobId: "abcdef123456", n: 30 });
    expect(id.length).toBeLessThanOrEqual(DISCORD_LIMITS.customId);
    expect(parseCustomId(id)).toEqual({ kind: "pick", jobId: "abcdef123456", n: 30 });
    expect(parseCustomId("other-bot:stop:1")).toBeNull();
    expect(parseCustomId("gems:pick:abc:x")).toBeNull();
  });

  it("nonces are at most 25 characters and differ per job and step", () => {
    const long = nonceOf("j".repeat(40), "17");
    expect(long.length).toBeLessThanOrEqual(DISCORD_LIMITS.nonce);
    expect(nonceOf("abcdef123456", "17")).toBe("abcdef123456.17");
    expect(nonceOf("j".repeat(40), "18")).not.toBe(long);
  });

  it("the command's names and descriptions respect Discord's limits", () => {
    const check = (option: any) => {
      expect(option.name.length).toBeLessThanOrEqual(DISCORD_LIMITS.commandName);
      expect(option.description.length).toBeLessThanOrEqual(DISCORD_LIMITS.commandDescription);
      for (const inner of option.options ?? []) check(inner);
    };
    check(gemsCommand);
  });
});

describe("images and secrets", () => {
  it("an image over the upload limit is shrunk until it fits, and stays a readable PNG", async () => {
    const width = 256;
    // Noise deflates badly, so the encoded file is large.
    const png = noisePng(width);
    const limit = Math.floor(png.byteLength / 3);

    const fitted = await fitUpload(png, limit);

    expect(fitted).not.toBeNull();
    expect(fitted?.bytes.byteLength).toBeLessThanOrEqual(limit);
    expect(fitted?.contentType).toBe("image/png");
    expect((await readImageInfo(fitted?.bytes as Uint8Array)).width).toBeLessThan(width);
    expect((await fitUpload(png, png.byteLength))?.bytes).toBe(png);
  });

  it("interaction and webhook tokens are masked in URLs that reach the log", () => {
    expect(maskUrl("https://discord.com/api/v10/interactions/123/aW50ZXJhY3Rpb24.token/callback")).toBe("https://discord.com/api/v10/interactions/123/[token]/callback");
    expect(maskUrl("https://discord.com/api/v10/webhooks/9/tok-en/messages/@original")).toBe("https://discord.com/api/v10/webhooks/9/[token]/messages/@original");
  });

  it("the feedback inbox hands out the message a piece of feedback came from, oldest first", () => {
    const inbox = new FeedbackInbox();
    inbox.remember("job1", "Bob", "greener", { channelId: "t", messageId: "1" });
    inbox.remember("job1", "Bob", "greener", { channelId: "t", messageId: "2" });
    const forget = inbox.remember("job1", "Ann", "bluer", { channelId: "t", messageId: "3" });
    forget();

    expect(inbox.take("job1", "Bob", " greener ")?.messageId).toBe("1");
    expect(inbox.take("job1", "Bob", "greener")?.messageId).toBe("2");
    expect(inbox.take("job1", "Bob", "greener")).toBeNull();
    expect(inbox.take("job1", "Ann", "bluer")).toBeNull();
  });
});

describe("the plan names the loop modes", () => {
  const planned = (modes?: { verify: "per-question" | "batch"; loop: "full" | "fast" }) => {
    const view = createJobView("job1", { id: "discord:42", name: "ana" }, "a red cube", 5);
    applyEvent(view, stamp({ type: "plan.done", skill: null, prompt: "a red cube", why: null, ...(modes ? { modes } : {}) }));
    return renderPlan(view).body.content ?? "";
  };

  it("says when a job verifies in batches or runs the fast loop", () => {
    expect(planned({ verify: "batch", loop: "fast" })).toContain("⚙️ batch verification, fast loop");
    expect(planned({ verify: "batch", loop: "full" })).toContain("⚙️ batch verification\n");
  });

  it("says nothing more for the reference loop or an event stored before modes existed", () => {
    expect(planned({ verify: "per-question", loop: "full" })).not.toContain("⚙️");
    expect(planned()).not.toContain("⚙️");
  });
});
