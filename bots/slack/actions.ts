/**
 * Buttons (block_actions) and the modal's submission (view_submission). Buttons are acked at
 * once and answered through the job service, which decides who may do what; its refusal
 * ("Only Ana or an admin can stop this job.") goes to the presser alone. The modal is checked
 * before its ack, because only the ack can keep it open with an error under each bad field.
 */
import type { App, BlockAction, ButtonAction, RespondFn, ViewSubmitAction } from "@slack/bolt";
import type { Person, Result } from "../../core/jobs/types.ts";
import type { BotContext } from "./bot-context.ts";
import { PICK_ACTION, REFINE_ACTION, STOP_ACTION, readButtonValue, type ButtonValue } from "./buttons.ts";
import { CREATE_MODAL_ID, readCreateModal } from "./modal.ts";
import { notifyViaEphemeral, notifyViaRespond } from "./responders.ts";
import { submitJob } from "./submit-job.ts";
import { takeSharedFiles } from "./shared-files.ts";

/** Iterations one press of "Refine more" adds. */
export const REFINE_MORE_ITERATIONS = 2;

type Press = (ctx: BotContext, value: ButtonValue, by: Person) => Promise<Result>;

const PRESSES: Record<string, Press> = {
  [STOP_ACTION]: (ctx, value, by) => ctx.jobs.cancel(value.jobId, by),
  [PICK_ACTION]: async (ctx, value, by) => {
    if (value.n === undefined) return { ok: false, reason: "input", message: "This button does not say which image to use." };
    return ctx.jobs.pick(value.jobId, value.n, by);
  },
  [REFINE_ACTION]: (ctx, value, by) => ctx.jobs.continue(value.jobId, REFINE_MORE_ITERATIONS, by),
};

export function registerActions(app: App, ctx: BotContext): void {
  for (const [actionId, press] of Object.entries(PRESSES)) {
    app.action<BlockAction<ButtonAction>>({ type: "block_actions", action_id: actionId }, async ({ ack, body, action, respond }) => {
      await ack();
      await onPress(ctx, press, body, action, respond);
    });
  }

  app.view<ViewSubmitAction>({ type: "view_submission", callback_id: CREATE_MODAL_ID }, async ({ ack, body, view }) => {
    const reading = readCreateModal(view, ctx.skills);
    if (!reading.ok) {
      await ack({ response_action: "errors", errors: reading.errors });
      return;
    }
    await ack();
    const team = body.team?.id ?? body.user.team_id ?? "";
    const requester = ctx.people.remember(team, body.user.id, body.user.name);
    const notify = notifyViaEphemeral(ctx.client, reading.channel, body.user.id);
    try {
      let referenceImages: string[] = [];
      if (reading.files.length > 0) {
        if (!ctx.images || !ctx.botToken) {
          await notify("This GEMS Bot takes no images yet. Start the job without one.");
          return;
        }
        // Read after the form closed (Slack waits 3 s for its answer); a refusal comes as an ephemeral message and nothing starts.
        const taken = await takeSharedFiles(reading.files, ctx.botToken, ctx.images);
        if (!taken.ok) {
          await notify(taken.message);
          return;
        }
        referenceImages = taken.hashes;
      }
      await submitJob(ctx, { ...reading.input, referenceImages }, requester, { team, channel: reading.channel }, notify);
    } catch (error) {
      ctx.logger.error({ err: error, user: requester.id }, "could not submit a job from the modal");
    }
  });
}

async function onPress(ctx: BotContext, press: Press, body: BlockAction<ButtonAction>, action: ButtonAction, respond: RespondFn): Promise<void> {
  const notify = notifyViaRespond(respond);
  const value = readButtonValue(action.value);
  try {
    if (value === null) {
      await notify("This button is from an older version of GEMS Bot and no longer works. Use `/gems` to start again.");
      return;
    }
    const team = body.team?.id ?? body.user.team_id ?? "";
    const by = ctx.people.remember(team, body.user.id, body.user.name ?? body.user.username);
    const result = await press(ctx, value, by);
    if (!result.ok) await notify(result.message);
    else ctx.logger.info({ jobId: value.jobId, user: by.id, action: action.action_id }, "button pressed");
  } catch (error) {
    ctx.logger.error({ err: error, action: action.action_id }, "a button press failed");
    await notify("Something went wrong on my side. Try again in a minute.");
  }
}
