/**
 * :+1: / :-1: reactions on an iteration's image message are team votes (Events API
 * `reaction_added` / `reaction_removed`, scope reactions:read). Any other reaction, message, or
 * the bot's own reactions are ignored.
 */
import type { App } from "@slack/bolt";
import { z } from "zod";
import type { BotContext } from "./bot-context.ts";
import { describeSlackError } from "./slack-errors.ts";
import { readThreadRef } from "./thread-ref.ts";

const reactionSchema = z.object({
  type: z.enum(["reaction_added", "reaction_removed"]),
  user: z.string(),
  reaction: z.string(),
  item: z.object({ type: z.string(), channel: z.string().optional(), ts: z.string().optional() }),
});

/** "up" for +1 / thumbsup, "down" for -1 / thumbsdown, skin tones included ("+1::skin-tone-2"). */
export function voteOfReaction(name: string): "up" | "down" | null {
  const base = name.split("::")[0];
  if (base === "+1" || base === "thumbsup") return "up";
  if (base === "-1" || base === "thumbsdown") return "down";
  return null;
}

export function registerVotes(app: App, ctx: BotContext): void {
  const images = new ImageMessages();
  const onReaction = async ({ event, body, context }: { event: unknown; body: { team_id?: unknown }; context: { botUserId?: string } }) => {
    const parsed = reactionSchema.safeParse(event);
    if (!parsed.success) return;
    const reaction = parsed.data;
    const value = voteOfReaction(reaction.reaction);
    const { channel, ts } = reaction.item;
    if (!value || reaction.item.type !== "message" || !channel || !ts || reaction.user === context.botUserId) return;
    const found = await images.find(ctx, channel, ts);
    if (!found) return;
    const team = typeof body.team_id === "string" ? body.team_id : "";
    const voter = await ctx.people.lookup(team, reaction.user);
    const isAdded = reaction.type === "reaction_added";
    const result = await ctx.jobs.vote(found.jobId, voter, found.n, isAdded ? value : value === "up" ? "remove-up" : "remove-down");
    if (!result.ok) ctx.logger.info({ jobId: found.jobId, reason: result.reason, problem: result.message }, "vote refused");
  };
  app.event("reaction_added", onReaction);
  app.event("reaction_removed", onReaction);
}

// Jobs looked through per reaction that is not yet known; older jobs' images are rarely voted on.
const RECENT_JOBS = 50;

/**
 * Which thread message shows which iteration. The upload answer does not say which message
 * shares the file (Slack fills `shares` asynchronously), so the ts is learnt from files.info
 * (scope files:read) the first time someone reacts in the job's channel, and kept in memory:
 * after a restart it is simply looked up again.
 */
export class ImageMessages {
  readonly #byMessage = new Map<string, { jobId: string; n: number }>();
  readonly #resolvedFiles = new Set<string>();

  async find(ctx: BotContext, channel: string, ts: string): Promise<{ jobId: string; n: number } | null> {
    const key = `${channel}/${ts}`;
    const known = this.#byMessage.get(key);
    if (known) return known;
    const recent = ctx.jobs.list().slice(0, RECENT_JOBS);
    for (const summary of recent) {
      const status = ctx.jobs.status(summary.jobId);
      if (!status.ok) continue;
      const ref = readThreadRef({ jobId: summary.jobId, requester: status.job.requester, surfaceRef: status.job.surfaceRef });
      if (!ref || ref.channel !== channel) continue;
      for (const [n, fileId] of Object.entries(ref.files)) {
        if (this.#resolvedFiles.has(fileId)) continue;
        for (const sharedTs of await this.#sharesOf(ctx, fileId, channel)) this.#byMessage.set(`${channel}/${sharedTs}`, { jobId: summary.jobId, n: Number(n) });
      }
      const found = this.#byMessage.get(key);
      if (found) return found;
    }
    return null;
  }

  async #sharesOf(ctx: BotContext, fileId: string, channel: string): Promise<string[]> {
    try {
      const info = await ctx.client.files.info({ file: fileId });
      const shares = info.file?.shares as { public?: Record<string, Array<{ ts?: string }>>; private?: Record<string, Array<{ ts?: string }>> } | undefined;
      const listed = [...(shares?.public?.[channel] ?? []), ...(shares?.private?.[channel] ?? [])].flatMap((share) => (typeof share.ts === "string" ? [share.ts] : []));
      // Not shared yet (Slack is still processing): asked again at the next reaction.
      if (listed.length > 0) this.#resolvedFiles.add(fileId);
      return listed;
    } catch (error) {
      ctx.logger.warn({ err: error, fileId }, `could not look up where an iteration image was posted: ${describeSlackError(error)}`);
      return [];
    }
  }
}
