/**
 * Replies in a job's thread are feedback. Each one gets 👀 at once (seen, stored), then ✅ and
 * a reply listing the questions it added once it is in the job's memory (see job-threads.ts,
 * which renders the feedback.added event). Refusals are answered with the service's message.
 */
import { feedbackAuthorName } from "../../core/agent/request.ts";
import { MessageType, type GatewayMessageCreateDispatchData } from "discord.js";
import type { Logger } from "pino";
import type { JobService } from "../../core/jobs/types.ts";
import type { DiscordRest } from "./discord-rest.ts";
import { DISCORD_LIMITS, truncate } from "./limits.ts";
import { isPermanentRefusal, safeError } from "./log-safe.ts";
import { personOf } from "./person.ts";
import type { ThreadIndex } from "./thread-index.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { takeAttachments } from "./attachments.ts";

/** What a reply with only an image says: the image is the feedback. */
export const IMAGE_ONLY_FEEDBACK = "Like the attached image.";

export const SEEN = "👀";
export const APPLIED = "✅";

export interface FeedbackMessage {
  channelId: string;
  messageId: string;
}

// A message that waits longer than this for its feedback.added is forgotten; the note is still
// posted, only not as a reply.
const MAX_REMEMBERED = 1000;

/**
 * The Discord message each piece of feedback came from, so the note about its questions can
 * reply to it. Keyed as the job service reports feedback: job, author name, trimmed text.
 */
export class FeedbackInbox {
  readonly #messages = new Map<string, FeedbackMessage[]>();
  #size = 0;

  remember(jobId: string, author: string, text: string, message: FeedbackMessage): () => void {
    const key = keyOf(jobId, author, text);
    this.#messages.set(key, [...(this.#messages.get(key) ?? []), message]);
    if (++this.#size > MAX_REMEMBERED) this.#dropOldest();
    return () => {
      const waiting = this.#messages.get(key) ?? [];
      if (!waiting.includes(message)) return;
      const left = waiting.filter((m) => m !== message);
      if (left.length > 0) this.#messages.set(key, left);
      else this.#messages.delete(key);
      this.#size--;
    };
  }

  /** The oldest message waiting with this feedback, removed from the inbox. */
  take(jobId: string, author: string, text: string): FeedbackMessage | null {
    const key = keyOf(jobId, author, text);
    const [first, ...rest] = this.#messages.get(key) ?? [];
    if (!first) return null;
    if (rest.length > 0) this.#messages.set(key, rest);
    else this.#messages.delete(key);
    this.#size--;
    return first;
  }

  #dropOldest(): void {
    const key = this.#messages.keys().next().value;
    if (key === undefined) return;
    const [, ...rest] = this.#messages.get(key) ?? [];
    if (rest.length > 0) this.#messages.set(key, rest);
    else this.#messages.delete(key);
    this.#size--;
  }
}

// Keyed by the name the job service records feedback under, so a reply meets its feedback.added event.
const keyOf = (jobId: string, author: string, text: string): string => `${jobId}\n${feedbackAuthorName(author)}\n${text.trim()}`;

export interface FeedbackDeps {
  jobs: JobService;
  /** Where images attached to replies are stored; without it they are ignored. */
  images?: ImageStore;
  rest: DiscordRest;
  threads: ThreadIndex;
  inbox: FeedbackInbox;
  logger: Logger;
}

/** Handles one MESSAGE_CREATE; anything that is not a person's reply in a job thread is ignored. */
export async function handleThreadMessage(deps: FeedbackDeps, message: GatewayMessageCreateDispatchData): Promise<void> {
  if (message.author.bot || message.webhook_id) return;
  if (message.type !== MessageType.Default && message.type !== MessageType.Reply) return;
  if (!message.guild_id) return;
  const jobId = deps.threads.jobIdOf(message.channel_id);
  if (!jobId) return;
  const attached = deps.images ? message.attachments : [];
  const text = message.content.trim() || (attached.length > 0 ? IMAGE_ONLY_FEEDBACK : "");
  const log = deps.logger.child({ jobId, user: message.author.id });
  if (text === "") {
    // Without the Message Content intent every message arrives empty; the log is the only place
    // an operator can learn why replies are ignored.
    if (message.attachments.length === 0) log.warn("a reply in a job thread arrived without text; is the Message Content intent enabled?");
    return;
  }
  const person = personOf(message.author, message.member?.nick);
  const where = { channelId: message.channel_id, messageId: message.id };
  const refuse = (text: string) =>
    answer(log, () =>
      deps.rest.post(message.channel_id, {
        body: {
          content: truncate(`⚠️ ${text}`, DISCORD_LIMITS.messageContent),
          message_reference: { message_id: message.id, fail_if_not_exists: false },
          allowed_mentions: { parse: [] },
        },
        images: [],
      }),
    );
  let imageHashes: string[] = [];
  if (attached.length > 0 && deps.images) {
    const taken = await takeAttachments(
      attached.map((a) => ({ name: a.filename, size: a.size, url: a.url })),
      deps.images,
    );
    if (!taken.ok) {
      log.info("feedback images refused");
      await refuse(taken.message);
      return;
    }
    imageHashes = taken.hashes;
  }
  // Remembered before the call: the note may be rendered before addFeedback returns.
  const forget = deps.inbox.remember(jobId, person.name, text, where);
  const result = await deps.jobs.addFeedback(jobId, person, text, imageHashes);
  if (!result.ok) {
    forget();
    log.info({ reason: result.reason }, "feedback refused");
    if (result.reason === "moderation") {
      // Never in the thread: the refusal goes to the author alone, by direct message.
      await answer(log, () => deps.rest.sendDirect(message.author.id, truncate(`⚠️ ${result.message}`, DISCORD_LIMITS.messageContent)));
      return;
    }
    await refuse(result.message);
    return;
  }
  log.info({ isApplied: result.isApplied }, "feedback taken");
  await answer(log, () => deps.rest.react(message.channel_id, message.id, SEEN));
}

async function answer(log: Logger, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    // The feedback itself is stored; a lost acknowledgement is worth a log line, not a crash.
    if (isPermanentRefusal(error)) log.warn({ err: safeError(error) }, "Discord refused the feedback acknowledgement");
    else log.error({ err: safeError(error) }, "could not acknowledge feedback");
  }
}
