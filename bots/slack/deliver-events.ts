/**
 * The Slack surface's subscriber: turns each job event into Web API calls on the job's thread.
 * Events arrive in order, at least once; a re-delivered one (same seq) is dropped by the
 * `renderedSeq` stored with the job, and an iteration whose image is already in the thread is
 * never uploaded twice. A failure Slack may recover from is thrown, so the job service delivers
 * the event again later; a permanent one is logged and the post skipped.
 */
import type { webApi } from "@slack/bolt";
import type { Logger } from "pino";
import { isPreviewStale, isVotesSuperseded, type BestView, type JobEvent } from "../../core/agent/events.ts";
import type { JobContext, JobService, JobStatus } from "../../core/jobs/types.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import {
  renderContinued,
  renderFeedbackAdded,
  renderFinal,
  renderIterationComment,
  renderIterationFailed,
  renderReferences,
  renderPlan,
  renderResumed,
  renderStatusCard,
  type Ending,
  type PreviewProgress,
  type SlackMessage,
} from "./render.ts";
import type { PendingResponders } from "./responders.ts";
import { describeSlackError, isChannelUnreachable, isPermanentSlackError } from "./slack-errors.ts";
import type { ThreadIndex } from "./thread-index.ts";
import { readThreadRef, toSurfaceRef, type ThreadRef } from "./thread-ref.ts";
import { uploadToThread } from "./upload.ts";
import { provenanceFor } from "../../core/images/provenance.ts";
import { PreviewPacing } from "./preview-pacing.ts";

export interface DeliveryDeps {
  jobs: JobService;
  images: ImageStore;
  client: webApi.WebClient;
  threads: ThreadIndex;
  responders: PendingResponders;
  logger: Logger;
  /** Budget for live previews on status cards; see preview-pacing.ts. */
  previewPacing?: PreviewPacing;
}

export interface EventDeliverer {
  handle(event: JobEvent, job: JobContext): Promise<void>;
  /** Resolves when every event being rendered now is done (for a clean stop). */
  settle(): Promise<void>;
}

/** How a final event ends the job, for renderFinal. */
function endingOf(event: Extract<JobEvent, { type: "job.done" | "job.failed" | "job.cancelled" }>): Ending {
  const ending: Ending =
    event.type === "job.done"
      ? { kind: "done", reason: event.reason, ...(event.votes ? { votes: event.votes } : {}), ...(event.isChosenByVotes ? { isChosenByVotes: true } : {}) }
      : event.type === "job.failed" ? { kind: "failed", error: event.error } : { kind: "cancelled" };
  // What the job spent, and why a quota stopped it (core/jobs/usage-ledger.ts).
  if (event.usage) ending.usage = event.usage;
  if (event.type === "job.done" && event.message) ending.message = event.message;
  return ending;
}

export function createEventDeliverer(deps: DeliveryDeps): EventDeliverer {
  const { jobs, images, client, threads, responders } = deps;
  const log = deps.logger;
  /** This process's latest ref per job; ahead of the stored one only if a store write failed. */
  const refs = new Map<string, ThreadRef>();
  /** Jobs whose channel the bot cannot post in; they were stopped, nothing more is rendered. */
  const unreachable = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const pacing = deps.previewPacing ?? new PreviewPacing();
  /** Jobs whose card shows a drawing percent now; image.ready takes it off. */
  const showingPreview = new Set<string>();
  /** Previews stored before this process started belong to a run a restart ended. */
  const startedAtMs = Date.now();

  async function save(jobId: string, ref: ThreadRef): Promise<void> {
    refs.set(jobId, ref);
    const stored = await jobs.setSurfaceRef(jobId, toSurfaceRef(ref));
    // The post is out; throwing now would post it again. A restart may repeat it at worst.
    if (!stored.ok) log.warn({ jobId, reason: stored.reason }, `could not store the thread's progress: ${stored.message}`);
  }

  /** Runs a Web API call; a permanent refusal is logged and skipped (null), anything else rethrown. */
  async function attempt<T>(jobId: string, what: string, call: () => Promise<T>): Promise<T | null> {
    try {
      return await call();
    } catch (error) {
      if (!isPermanentSlackError(error)) throw error;
      log.error({ jobId, err: error }, `gave up on ${what}: ${describeSlackError(error)}`);
      return null;
    }
  }

  function post(ref: ThreadRef, message: SlackMessage) {
    return client.chat.postMessage({
      channel: ref.channel,
      thread_ts: ref.threadTs ?? undefined,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      unfurl_links: false,
      unfurl_media: false,
    });
  }

  async function updateCard(jobId: string, ref: ThreadRef, status: JobStatus, preview: PreviewProgress | null = null): Promise<void> {
    if (ref.threadTs === null) return;
    const card = renderStatusCard(status, preview);
    await attempt(jobId, "updating the status card", () =>
      client.chat.update({ channel: ref.channel, ts: ref.threadTs as string, text: card.text, blocks: card.blocks ?? [] }),
    );
  }

  /** Posts the status card that becomes the thread's root; null when Slack will not take it (the job is then stopped). */
  async function createThread(job: JobContext, ref: ThreadRef, status: JobStatus): Promise<ThreadRef | null> {
    const card = renderStatusCard(status);
    try {
      const posted = await client.chat.postMessage({ channel: ref.channel, text: card.text, blocks: card.blocks ?? [], unfurl_links: false, unfurl_media: false });
      if (typeof posted.ts !== "string") throw new Error("chat.postMessage answered without a ts");
      const next = { ...ref, threadTs: posted.ts };
      threads.add(ref.channel, posted.ts, job.jobId);
      responders.take(ref.requestId);
      await save(job.jobId, next);
      return next;
    } catch (error) {
      // A job nobody can see is stopped rather than retried forever; its requester is told why.
      if (!isPermanentSlackError(error)) throw error;
      await giveUp(job, ref, error);
      return null;
    }
  }

  async function giveUp(job: JobContext, ref: ThreadRef, error: unknown): Promise<void> {
    unreachable.add(job.jobId);
    log.warn({ jobId: job.jobId, channel: ref.channel, err: error }, `cannot post the job's thread: ${describeSlackError(error)}`);
    const stopped = await jobs.cancel(job.jobId, job.requester);
    if (!stopped.ok && stopped.reason !== "conflict") log.warn({ jobId: job.jobId }, `could not stop a job without a thread: ${stopped.message}`);
    const notify = responders.take(ref.requestId);
    if (!notify) return;
    const why = isChannelUnreachable(error)
      ? `I can't post in <#${ref.channel}>, so I stopped the job. Invite me with \`/invite @GEMS\` (or use a channel I'm in) and try again.`
      : `Slack refused the job's first message (${describeSlackError(error)}), so I stopped the job. Try again, or tell whoever runs GEMS Bot.`;
    try {
      await notify(why);
    } catch (notifyError) {
      log.warn({ jobId: job.jobId, err: notifyError }, "could not tell the requester why their job stopped");
    }
  }

  async function uploadIteration(event: Extract<JobEvent, { type: "verified" }>, ref: ThreadRef, status: JobStatus): Promise<ThreadRef> {
    const comment = renderIterationComment(status, event.n, event.verdicts, event.regressions);
    const hash = status.trajectory.iterations.find((it) => it.n === event.n)?.imageHash ?? null;
    const png = hash ? await readImage(event.jobId, hash) : null;
    if (!png) {
      await attempt(event.jobId, `posting iteration ${event.n}`, () => post(ref, { text: comment }));
      return ref;
    }
    const fileId = await attempt(event.jobId, `uploading iteration ${event.n}`, () =>
      uploadToThread(client, {
        channel: ref.channel,
        threadTs: ref.threadTs as string,
        png,
        filename: `gems-${event.jobId}-${event.n}.png`,
        title: `Iteration ${event.n}`,
        comment,
        provenance: provenanceFor(status.trajectory, event.n, "slack", hash as string),
        onUntagged: (error) => log.warn({ jobId: event.jobId, err: error }, "could not write provenance into an image; uploading it without"),
      }),
    );
    return fileId === null ? ref : { ...ref, files: { ...ref.files, [String(event.n)]: fileId } };
  }

  async function readImage(jobId: string, hash: string): Promise<Uint8Array | null> {
    try {
      return await images.get(hash);
    } catch (error) {
      // Swept or lost: the checklist is still worth showing on its own.
      log.warn({ jobId, err: error }, "could not read an iteration's image; posting the checklist without it");
      return null;
    }
  }

  async function postFinal(job: JobContext, ref: ThreadRef, status: JobStatus, ending: Ending, best: BestView | null): Promise<ThreadRef> {
    let next = ref;
    let fileId = best ? (ref.files[String(best.n)] ?? null) : null;
    if (best && fileId === null) {
      // Its iteration reply never made it (a restart between steps): upload the image with the result.
      const png = await readImage(job.jobId, best.image.hash);
      if (png) {
        fileId = await attempt(job.jobId, "uploading the best image", () =>
          uploadToThread(client, {
            channel: ref.channel,
            threadTs: ref.threadTs as string,
            png,
            filename: `gems-${job.jobId}-${best.n}.png`,
            title: `Iteration ${best.n}`,
            comment: `*Iteration ${best.n}*`,
            provenance: provenanceFor(status.trajectory, best.n, "slack", best.image.hash),
            onUntagged: (error) => log.warn({ jobId: job.jobId, err: error }, "could not write provenance into an image; uploading it without"),
          }),
        );
        if (fileId !== null) {
          next = { ...ref, files: { ...ref.files, [String(best.n)]: fileId } };
          // Stored before the next post, which may fail and bring this event back.
          await save(job.jobId, next);
        }
      }
    }
    const posted = await attempt(job.jobId, "posting the result", () => post(next, renderFinal(status, ending, best, fileId)));
    return typeof posted?.ts === "string" ? { ...next, finalTs: posted.ts } : next;
  }

  /**
   * Votes cast after the end: chat.update of the final reply with the counts now, once per burst
   * (the service debounces; the Web API client waits out a rate limit). Skipped when newer counts
   * are stored or the job went on, and for a job whose final reply predates `finalTs`.
   */
  async function updateFinalVotes(event: Extract<JobEvent, { type: "votes.changed" }>, ref: ThreadRef, status: JobStatus): Promise<void> {
    const stored = jobs.events(event.jobId, 0);
    if (!stored.ok || ref.finalTs === undefined) return;
    const later = stored.events.filter((e) => e.seq > event.seq);
    const done = stored.events.filter((e) => e.seq < event.seq).findLast((e) => e.type === "job.done");
    if (isVotesSuperseded(later) || done?.type !== "job.done") return;
    const atEnd = endingOf(done);
    if (atEnd.kind !== "done") return;
    const ending: Ending = { ...atEnd, votes: event.votes, isVotedAfterEnd: true };
    const fileId = done.best ? (ref.files[String(done.best.n)] ?? null) : null;
    const message = renderFinal(status, ending, done.best, fileId);
    await attempt(event.jobId, "updating the result's votes", () =>
      client.chat.update({ channel: ref.channel, ts: ref.finalTs as string, text: message.text, blocks: message.blocks ?? [] }),
    );
  }

  async function render(event: JobEvent, job: JobContext): Promise<void> {
    const stored = readThreadRef(job);
    if (!stored) {
      log.error({ jobId: job.jobId }, "a Slack job has no readable thread reference; its events are dropped");
      return;
    }
    let ref = refs.get(job.jobId) ?? stored;
    if (event.seq <= ref.renderedSeq || unreachable.has(job.jobId)) return;
    const found = jobs.status(job.jobId);
    if (!found.ok) return;
    const status = found.job;

    let isNewThread = false;
    if (ref.threadTs === null) {
      const created = await createThread(job, ref, status);
      if (!created) return;
      ref = created;
      isNewThread = true;
    }

    let isPosted = false;
    const reply = async (message: SlackMessage) => {
      await attempt(job.jobId, `posting ${event.type}`, () => post(ref, message));
      isPosted = true;
    };

    // Card edits come first: they are safe to repeat, so a failure after a post must not be one
    // (the event would come again and post twice).
    switch (event.type) {
      case "job.queued":
        if (!isNewThread) await updateCard(job.jobId, ref, status);
        if (event.seq > 1) await reply(renderContinued(status));
        break;
      case "job.started":
        showingPreview.delete(job.jobId);
        await updateCard(job.jobId, ref, status);
        if (event.resumed) await reply(renderResumed(status));
        break;
      case "requirements":
        await reply(renderPlan(status, event.questions));
        break;
      case "iteration.started":
        await updateCard(job.jobId, ref, status);
        break;
      case "iteration.failed":
        await reply(renderIterationFailed(event.n, event.error));
        break;
      case "references":
        await reply(renderReferences(event.images.length, event.isUsedByGenerator, event.note));
        break;
      case "verified":
        if (ref.files[String(event.n)] === undefined) {
          ref = await uploadIteration(event, ref, status);
          isPosted = true;
        }
        break;
      case "feedback.added":
        await reply(renderFeedbackAdded(event.author, event.text, event.questions, event.retired, event.images?.length ?? 0));
        break;
      case "job.done":
      case "job.failed":
      case "job.cancelled": {
        showingPreview.delete(job.jobId);
        pacing.forget(job.jobId);
        await updateCard(job.jobId, ref, status);
        ref = await postFinal(job, ref, status, endingOf(event), event.best);
        isPosted = true;
        break;
      }
      case "image.preview": {
        // Percent only, on the card: see bots/slack/README.md for why Slack gets no preview image.
        const later = jobs.events(job.jobId, event.seq);
        if (!later.ok || isPreviewStale(event, later.events, startedAtMs) || !pacing.take(job.jobId)) break;
        await updateCard(job.jobId, ref, status, { n: event.n, percent: event.percent });
        showingPreview.add(job.jobId);
        break;
      }
      case "image.ready":
        // The card said "drawing… n%"; the image is in, so it says so until the verdicts arrive.
        if (showingPreview.delete(job.jobId)) await updateCard(job.jobId, ref, status);
        break;
      case "votes.changed":
        await updateFinalVotes(event, ref, status);
        break;
      case "plan.done":
      case "experience":
      case "prompt.refined":
        // Shown elsewhere: the plan with the checklist, the image with its verdicts, the
        // refined prompt and its reasoning with the next iteration.
        break;
      default: {
        // A new event type must be given a rendering here; this stops the build until it is.
        const unhandled: never = event;
        log.warn({ jobId: job.jobId, type: (unhandled as JobEvent).type }, "no Slack rendering for this event");
      }
    }

    ref = { ...ref, renderedSeq: event.seq };
    // Only what posted needs storing: card edits are safe to repeat after a restart.
    if (isPosted || isNewThread) await save(job.jobId, ref);
    else refs.set(job.jobId, ref);
  }

  return {
    async handle(event, job) {
      const work = render(event, job);
      inFlight.add(work);
      try {
        await work;
      } finally {
        inFlight.delete(work);
      }
    },
    async settle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
