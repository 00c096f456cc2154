/**
 * 👍/👎 on an iteration's message are team votes. Discord sends every reaction in the guild as
 * MESSAGE_REACTION_ADD / MESSAGE_REACTION_REMOVE (GUILD_MESSAGE_REACTIONS intent); the job and
 * iteration are found through the thread index and the iteration messages stored in the job's
 * surface reference. Other emoji, other messages and the bot's own reactions are ignored.
 */
import type { GatewayMessageReactionAddDispatchData, GatewayMessageReactionRemoveDispatchData } from "discord.js";
import type { Logger } from "pino";
import type { JobService, Person } from "../../core/jobs/types.ts";
import { personOf } from "./person.ts";
import { readDiscordRef } from "./surface-ref.ts";
import type { ThreadIndex } from "./thread-index.ts";

export interface ReactionDeps {
  jobs: JobService;
  threads: ThreadIndex;
  /** The bot's own user id once connected; its reactions are never votes. */
  botUserId: () => string | undefined;
  logger: Logger;
}

// Skin-tone modifiers (U+1F3FB–U+1F3FF) follow the base emoji; 👍🏽 is still 👍.
const SKIN_TONE = /[\u{1F3FB}-\u{1F3FF}]/gu;

/** "up" for 👍, "down" for 👎 (any skin tone), null for anything else. */
export function voteOfEmoji(emoji: { id?: string | null; name?: string | null }): "up" | "down" | null {
  // A custom emoji has an id; its name is whatever the server chose, so it is never a vote.
  if (emoji.id || !emoji.name) return null;
  const base = emoji.name.replace(SKIN_TONE, "").replace(/\uFE0F/g, "");
  return base === "👍" ? "up" : base === "👎" ? "down" : null;
}

type ReactionData = GatewayMessageReactionAddDispatchData | GatewayMessageReactionRemoveDispatchData;

/** Handles one reaction event; `isAdded` tells MESSAGE_REACTION_ADD from _REMOVE. */
export async function handleReaction(deps: ReactionDeps, data: ReactionData, isAdded: boolean): Promise<void> {
  const value = voteOfEmoji(data.emoji);
  if (!value || !data.guild_id || data.user_id === deps.botUserId()) return;
  const member = "member" in data ? data.member : undefined;
  if (member?.user?.bot) return;
  const jobId = deps.threads.jobIdOf(data.channel_id);
  if (!jobId) return;
  const status = deps.jobs.status(jobId);
  if (!status.ok) return;
  const ref = readDiscordRef(status.job.surfaceRef);
  const entry = Object.entries(ref?.iterationMessages ?? {}).find(([, messageId]) => messageId === data.message_id);
  if (!entry) return;
  const n = Number(entry[0]);
  // MESSAGE_REACTION_REMOVE carries no member; the id is what identifies the vote to clear.
  const voter: Person = member?.user ? personOf(member.user, member.nick) : { id: `discord:${data.user_id}`, name: data.user_id };
  const log = deps.logger.child({ jobId, user: data.user_id, iteration: n });
  const result = await deps.jobs.vote(jobId, voter, n, isAdded ? value : value === "up" ? "remove-up" : "remove-down");
  // A reaction cannot be answered in place; a refused vote is only worth a log line.
  if (!result.ok) log.info({ reason: result.reason, problem: result.message }, "vote refused");
  else log.debug({ value, isAdded }, "vote from a reaction");
}
