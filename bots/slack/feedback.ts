/**
 * Thread replies as feedback. A person's reply in a job's thread goes to addFeedback; the bot
 * reacts to say it was taken, and the questions it adds are listed when the job service applies
 * it (deliver-events.ts, on `feedback.added`), which for a running job is before its next step.
 * Bot messages (its own included) and edits, deletions and other subtypes are not feedback.
 */
import type { App } from "@slack/bolt";
import { z } from "zod";
import type { BotContext } from "./bot-context.ts";
import { plainTextFromSlack } from "./mrkdwn.ts";
import { notifyViaEphemeral } from "./responders.ts";
import { describeSlackError, platformErrorOf } from "./slack-errors.ts";
import { takeSharedFiles } from "./shared-files.ts";

export const FEEDBACK_REACTION = "memo";

/**
 * A reply "also sent to the channel" is still a reply, and so is one that shares a file; every
 * other subtype is not a person typing.
 */
const HUMAN_SUBTYPES = new Set([undefined, "thread_broadcast", "file_share"]);

/** What a reply with only a file says: the image is the feedback. */
export const FILE_ONLY_FEEDBACK = "Like the attached image.";

const threadReplySchema = z.object({
  type: z.literal("message"),
  subtype: z.string().optional(),
  bot_id: z.string().optional(),
  user: z.string(),
  text: z.string(),
  channel: z.string(),
  ts: z.string(),
  thread_ts: z.string(),
  team: z.string().optional(),
  files: z.array(z.object({ id: z.string(), name: z.string(), size: z.number().optional(), url_private: z.string().optional() })).optional(),
});

const REMEMBERED_REPLIES = 1000;

export function registerFeedback(app: App, ctx: BotContext): void {
  // Slack delivers an event again when it thinks the first delivery failed; the same reply must
  // not become feedback twice.
  const seen = new Set<string>();
  const isFirstSight = (key: string): boolean => {
    if (seen.has(key)) return false;
    if (seen.size >= REMEMBERED_REPLIES) seen.delete(seen.values().next().value as string);
    seen.add(key);
    return true;
  };

  app.event("message", async ({ event, body, context }) => {
    const parsed = threadReplySchema.safeParse(event);
    if (!parsed.success) return;
    const reply = parsed.data;
    if (!HUMAN_SUBTYPES.has(reply.subtype) || reply.bot_id !== undefined) return;
    if (reply.user === context.botUserId || reply.ts === reply.thread_ts) return;
    const jobId = ctx.threads.find(reply.channel, reply.thread_ts);
    if (jobId === null || !isFirstSight(`${reply.channel}/${reply.ts}`)) return;

    const team = reply.team ?? (typeof body.team_id === "string" ? body.team_id : "");
    const author = await ctx.people.lookup(team, reply.user);
    const explain = async (message: string) => {
      try {
        await notifyViaEphemeral(ctx.client, reply.channel, reply.user, reply.thread_ts)(message);
      } catch (error) {
        ctx.logger.warn({ err: error, jobId }, "could not explain a refused feedback");
      }
    };
    const files = ctx.images && ctx.botToken ? (reply.files ?? []) : [];
    const taken = files.length > 0 ? await takeSharedFiles(files, ctx.botToken as string, ctx.images!) : { ok: true as const, hashes: [] };
    if (!taken.ok) {
      ctx.logger.info({ jobId }, "feedback files refused");
      await explain(taken.message);
      return;
    }
    const text = plainTextFromSlack(reply.text).trim() || (taken.hashes.length > 0 ? FILE_ONLY_FEEDBACK : "");
    const result = await ctx.jobs.addFeedback(jobId, author, text, taken.hashes);
    if (!result.ok) {
      await explain(result.message);
      return;
    }
    ctx.logger.info({ jobId, user: author.id, isApplied: result.isApplied }, "feedback taken");
    try {
      await ctx.client.reactions.add({ channel: reply.channel, timestamp: reply.ts, name: FEEDBACK_REACTION });
    } catch (error) {
      // Slack re-sends an event it thinks was missed; the second reaction is the only harm.
      if (platformErrorOf(error) !== "already_reacted") ctx.logger.warn({ err: error, jobId }, `could not react to feedback: ${describeSlackError(error)}`);
    }
  });
}
