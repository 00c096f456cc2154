/**
 * `@GEMS <prompt>` in a channel (Events API `app_mention`, scope app_mentions:read) and a direct
 * message to the bot (`message` with channel_type "im", scope im:history) start a job as `/gems`
 * does, with the same options. The job's thread opens where it was asked. Mentions inside a
 * thread, thread replies in a DM, bot messages and message subtypes (edits, joins…) start nothing:
 * in a job's thread they are feedback (feedback.ts).
 */
import type { App } from "@slack/bolt";
import { z } from "zod";
import type { BotContext } from "./bot-context.ts";
import { parseGemsCommand } from "./command-text.ts";
import { renderHelp, renderSkills } from "./render.ts";
import { notifyViaEphemeral, type Notify } from "./responders.ts";
import { submitJob } from "./submit-job.ts";

const askSchema = z.object({
  type: z.enum(["app_mention", "message"]),
  subtype: z.string().optional(),
  bot_id: z.string().optional(),
  user: z.string(),
  text: z.string(),
  channel: z.string(),
  channel_type: z.string().optional(),
  ts: z.string(),
  thread_ts: z.string().optional(),
  team: z.string().optional(),
});

// Every user mention, `<@U123>` or `<@U123|name>`: the bot's own is the address, not the prompt.
const MENTION = /<@[UW][A-Z0-9]+(?:\|[^>]*)?>/g;

const REMEMBERED = 1000;

export function registerMentions(app: App, ctx: BotContext): void {
  // Slack re-sends an event it thinks was missed; one request must start one job.
  const seen = new Set<string>();
  const isFirstSight = (key: string): boolean => {
    if (seen.has(key)) return false;
    if (seen.size >= REMEMBERED) seen.delete(seen.values().next().value as string);
    seen.add(key);
    return true;
  };

  const onAsk = async ({ event, body, context }: { event: unknown; body: { team_id?: unknown }; context: { botUserId?: string } }) => {
    const parsed = askSchema.safeParse(event);
    if (!parsed.success) return;
    const ask = parsed.data;
    if (ask.subtype !== undefined || ask.bot_id !== undefined || ask.user === context.botUserId) return;
    if (ask.thread_ts !== undefined && ask.thread_ts !== ask.ts) return;
    const isDirect = ask.type === "message";
    if (isDirect && ask.channel_type !== "im") return;
    if (!isFirstSight(`${ask.channel}/${ask.ts}`)) return;

    const team = ask.team ?? (typeof body.team_id === "string" ? body.team_id : "");
    // In a DM the answer may simply be a message: only the person and the bot are there.
    const notify: Notify = isDirect
      ? async (text) => void (await ctx.client.chat.postMessage({ channel: ask.channel, text, unfurl_links: false }))
      : notifyViaEphemeral(ctx.client, ask.channel, ask.user);
    try {
      const command = parseGemsCommand(ask.text.replace(MENTION, " "));
      switch (command.kind) {
        case "help":
        case "modal":
          await notify(renderHelp().text);
          return;
        case "skills":
          await notify(renderSkills(ctx.skills.manifest()).text);
          return;
        case "invalid":
          await notify(command.message);
          return;
        case "create": {
          const requester = await ctx.people.lookup(team, ask.user);
          await submitJob(ctx, { prompt: command.prompt, skill: command.skill, iterations: command.iterations }, requester, { team, channel: ask.channel }, notify);
        }
      }
    } catch (error) {
      ctx.logger.error({ err: error, user: ask.user }, `could not answer ${isDirect ? "a direct message" : "a mention"}`);
      await notify("Something went wrong on my side; nothing was started. Try again in a minute.").catch(() => undefined);
    }
  };
  app.event("app_mention", onAsk);
  app.event("message", onAsk);
}
