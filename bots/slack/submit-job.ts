/** Submitting a job from Slack, shared by the slash command and the modal. */
import { randomUUID } from "node:crypto";
import type { JobRequestInput } from "../../core/agent/request.ts";
import type { Person } from "../../core/jobs/types.ts";
import type { BotContext } from "./bot-context.ts";
import type { Notify } from "./responders.ts";
import { newThreadRef, toSurfaceRef } from "./thread-ref.ts";

/**
 * Queues the job with a thread reference that has no thread yet: the first event's delivery
 * posts the status card and so creates the thread (deliver-events.ts). A refusal, including
 * an empty prompt, an unknown skill or iterations out of range, goes to the person only.
 */
export async function submitJob(
  ctx: BotContext,
  input: JobRequestInput,
  requester: Person,
  where: { team: string; channel: string },
  notify: Notify,
): Promise<void> {
  const requestId = randomUUID();
  ctx.responders.set(requestId, notify);
  const result = await ctx.jobs.submit(input, requester, toSurfaceRef(newThreadRef(where.team, where.channel, requestId)));
  if (result.ok) {
    ctx.logger.info({ jobId: result.jobId, user: requester.id, position: result.position }, "job submitted from Slack");
    return;
  }
  ctx.responders.take(requestId);
  await notify(result.message);
}
