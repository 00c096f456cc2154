/**
 * Puts the moderation step in front of a job service: a prompt (with its reference images) is
 * checked before submit, and a feedback before addFeedback, so nothing refused is queued, stored
 * in memory or shown to a model. A refusal is an ordinary Refusal with reason "moderation"; the
 * surfaces show it only to the requester. Admins find it in the log at warn, without the text.
 *
 * A wrapper rather than lines in job-service.ts, so the job service can change underneath it.
 */
import type { Logger } from "pino";
import { describeError } from "../errors.ts";
import type { ImageStore } from "../memory/stores.ts";
import { sniffImageType } from "../images/image-type.ts";
import type { ModerationImage, ModerationOutcome, ModerationStep } from "../moderation/moderator.ts";
import type { JobService, Refusal } from "./types.ts";
import { overriding } from "./service-wrapper.ts";

export interface ModerationDeps {
  step: ModerationStep;
  logger: Logger;
  /** Reads reference images by hash when a request carries any. */
  images?: Pick<ImageStore, "get">;
}

export type ModeratedWhat = "prompt" | "feedback";

export function moderationRefusal(outcome: Exclude<ModerationOutcome, { ok: true }>, what: ModeratedWhat): Refusal {
  if (outcome.isOutage) {
    return {
      ok: false,
      reason: "moderation",
      message: `The content filter cannot be reached right now, so your ${what} was not taken. Try again in a few minutes.`,
    };
  }
  const why = outcome.categories.length > 0 && outcome.categories[0] !== "word-list" ? ` (${outcome.categories.join(", ")})` : "";
  return {
    ok: false,
    reason: "moderation",
    message: `Your ${what} was not taken: it did not pass the content filter${why}. Only you see this; rephrase it and try again.`,
  };
}

export function withModeration(jobs: JobService, deps: ModerationDeps): JobService {
  const { step, logger } = deps;

  async function referenceImages(hashes: unknown): Promise<ModerationImage[] | Refusal> {
    if (!Array.isArray(hashes) || hashes.length === 0) return [];
    if (!deps.images) return [];
    const out: ModerationImage[] = [];
    for (const hash of hashes) {
      if (typeof hash !== "string") continue;
      try {
        const data = await deps.images.get(hash);
        out.push({ mimeType: sniffImageType(data) ?? "image/png", data });
      } catch (error) {
        // The job service would refuse an unknown image anyway; say it here, plainly.
        return { ok: false, reason: "input", message: `A reference image could not be read (${describeError(error)}). Attach it again.` };
      }
    }
    return out;
  }

  const submit: JobService["submit"] = async (input, requester, surfaceRef) => {
    const images = await referenceImages(input.referenceImages);
    if (!Array.isArray(images)) return images;
    const outcome = await step.check({ text: typeof input.prompt === "string" ? input.prompt : "", images });
    if (!outcome.ok) {
      logger.warn(
        { user: requester.id, surface: surfaceRef?.surface, moderator: outcome.by, categories: outcome.categories, isOutage: outcome.isOutage, images: images.length },
        "moderation refused a prompt",
      );
      return moderationRefusal(outcome, "prompt");
    }
    return jobs.submit(input, requester, surfaceRef);
  };

  const addFeedback: JobService["addFeedback"] = async (jobId, author, text, imageHashes) => {
    const images = await referenceImages(imageHashes);
    if (!Array.isArray(images)) return images;
    const outcome = await step.check({ text: typeof text === "string" ? text : "", images });
    if (!outcome.ok) {
      logger.warn(
        { user: author.id, jobId, moderator: outcome.by, categories: outcome.categories, isOutage: outcome.isOutage, images: images.length },
        "moderation refused a feedback",
      );
      return moderationRefusal(outcome, "feedback");
    }
    return imageHashes === undefined ? jobs.addFeedback(jobId, author, text) : jobs.addFeedback(jobId, author, text, imageHashes);
  };

  return overriding(jobs, { submit, addFeedback });
}
