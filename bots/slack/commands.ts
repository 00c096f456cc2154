/**
 * `/gems`: acknowledged at once (Slack gives up after 3 seconds), then answered. A prompt
 * queues a job; nothing but a refusal is said to the person, because the job's own status card
 * appears in the channel. `/gems` alone opens the modal, whose trigger_id is only valid for 3
 * seconds too, so views.open comes straight after the ack.
 */
import type { App, SlashCommand } from "@slack/bolt";
import type { BotContext } from "./bot-context.ts";
import { parseGemsCommand } from "./command-text.ts";
import { buildCreateModal } from "./modal.ts";
import { renderHelp, renderSkillListing, renderSkills } from "./render.ts";
import { addSharedSkill } from "./skill-files.ts";
import { notifyViaRespond, type Notify } from "./responders.ts";
import { describeSlackError } from "./slack-errors.ts";
import { submitJob } from "./submit-job.ts";
import { escapeMrkdwn } from "./mrkdwn.ts";
import { usageAnswer } from "../../core/jobs/usage-ledger.ts";

export const COMMAND = "/gems";

export function registerCommands(app: App, ctx: BotContext): void {
  app.command(COMMAND, async ({ ack, command, respond }) => {
    await ack();
    const notify = notifyViaRespond(respond);
    try {
      await answer(ctx, command, notify);
    } catch (error) {
      ctx.logger.error({ err: error, user: command.user_id }, "the /gems command failed");
      await notify("Something went wrong on my side; nothing was started. Try again in a minute.");
    }
  });
}

async function answer(ctx: BotContext, command: SlashCommand, notify: Notify): Promise<void> {
  const parsed = parseGemsCommand(command.text);
  switch (parsed.kind) {
    case "help":
      await notify(renderHelp().text);
      return;
    case "skills":
      await notify(ctx.team ? renderSkillListing(ctx.team.list()).text : renderSkills(ctx.skills.manifest()).text);
      return;
    case "usage": {
      if (!ctx.usage) return notify("This GEMS Bot does not keep a usage ledger.");
      const person = ctx.people.remember(command.team_id, command.user_id, command.user_name);
      await notify(escapeMrkdwn(usageAnswer(ctx.usage, person, parsed.days).join("\n")));
      return;
    }
    case "skill-add":
    case "skill-default": {
      if (!ctx.team) {
        await notify("Team skills are not set up on this GEMS Bot.");
        return;
      }
      const person = ctx.people.remember(command.team_id, command.user_id, command.user_name);
      if (parsed.kind === "skill-default") {
        await notify((await ctx.team.setDefault(person, parsed.choice)).message);
        return;
      }
      await notify(await addSharedSkill(ctx, ctx.team, person, command.channel_id, command.user_id));
      return;
    }
    case "invalid":
      await notify(parsed.message);
      return;
    case "modal":
      try {
        await ctx.client.views.open({ trigger_id: command.trigger_id, view: buildCreateModal(ctx.skills, command.channel_id) });
      } catch (error) {
        ctx.logger.warn({ err: error }, "could not open the /gems modal");
        await notify(`I could not open the form (${describeSlackError(error)}). Type \`/gems <prompt>\` instead.`);
      }
      return;
    case "create": {
      const requester = ctx.people.remember(command.team_id, command.user_id, command.user_name);
      await submitJob(
        ctx,
        { prompt: parsed.prompt, skill: parsed.skill, iterations: parsed.iterations, refineMode: parsed.refine },
        requester,
        { team: command.team_id, channel: command.channel_id },
        notify,
      );
    }
  }
}
