/**
 * Renders each job's events into its thread: the event handler the bot subscribes to the job
 * service with. Per event at most one new message, posted last, after any edits; so a retried
 * event repeats only idempotent edits, and its post carries a nonce Discord deduplicates.
 * Posted seqs are stored in the job's SurfaceRef, so after a restart re-delivered events are
 * folded into the view without posting again.
 *
 * REST calls per iteration: status edit (iteration.started), the iteration message (verified),
 * and its edit with the next prompt (prompt.refined). Each in the job's own thread, so jobs do
 * not share a rate-limit bucket. With live previews the iteration message is posted at the
 * first preview instead, each later preview edits it (the core sends at most one per
 * GEMS_PREVIEW_INTERVAL_MS), and image.ready swaps the preview for the final image: previews
 * cost edits, never messages. A preview already superseded in the log (after a restart, or
 * when Discord's rate limits made the bot fall behind) is skipped without a call.
 *
 * After the end, votes.changed (one per burst of votes) costs one edit of the final message,
 * whose id the SurfaceRef keeps; a superseded one costs nothing.
 */
import { createHash } from "node:crypto";
import { DiscordAPIError, RESTJSONErrorCodes } from "discord.js";
import type { Logger } from "pino";
import { isPreviewStale, isVotesSuperseded, type JobEvent } from "../../core/agent/events.ts";
import type { JobContext, JobService } from "../../core/jobs/types.ts";
import type { DiscordRest } from "./discord-rest.ts";
import { APPLIED, type FeedbackInbox } from "./feedback.ts";
import { applyEvent, createJobView, isFinishedPhase, iterationOf, type JobView } from "./job-view.ts";
import { DISCORD_LIMITS } from "./limits.ts";
import { isPermanentRefusal, safeError } from "./log-safe.ts";
import {
  renderFeedbackNote,
  renderFinal,
  renderIteration,
  renderIterationFailed,
  renderIterationInterrupted,
  renderIterationPreview,
  renderPlan,
  renderReferences,
  renderResumed,
  renderStarter,
  renderStatus,
  threadNameOf,
  type OutgoingMessage,
} from "./render.ts";
import { readDiscordRef, toSurfaceRef, type DiscordRef } from "./surface-ref.ts";
import type { ThreadIndex } from "./thread-index.ts";

export interface JobThreadsDeps {
  jobs: JobService;
  rest: DiscordRest;
  threads: ThreadIndex;
  inbox: FeedbackInbox;
  logger: Logger;
}

interface ThreadState {
  ref: DiscordRef;
  view: JobView;
  /** Highest seq folded into the view (a retried event must not be folded twice). */
  foldedSeq: number;
  /** The status message as last sent, to skip edits that change nothing. */
  lastStatus: string | null;
  /** Discord refused for good (no access to the channel): stop trying for this job. */
  isBroken: boolean;
  /** Iteration → the preview image its message shows now, so a percent-only preview re-uploads nothing. */
  shownPreviews: Map<number, string>;
  /** Preview messages already emptied after a restart, failure or stop. */
  clearedPreviews: Set<number>;
}

export interface JobThreads {
  /** The job service's EventHandler for the "discord" surface. */
  deliver(event: JobEvent, job: JobContext): Promise<void>;
  /** Resolves when deliveries in progress have finished. */
  settle(): Promise<void>;
}

export function createJobThreads(deps: JobThreadsDeps): JobThreads {
  const states = new Map<string, ThreadState>();
  const inFlight = new Set<Promise<void>>();
  const log = deps.logger;
  /** Previews stored before this process started belong to a run a restart ended. */
  const startedAtMs = Date.now();

  function open(job: JobContext, ref: DiscordRef): ThreadState {
    const status = deps.jobs.status(job.jobId);
    const request = status.ok ? status.job.request : { prompt: "", maxIterations: 0 };
    const state: ThreadState = {
      ref,
      view: createJobView(job.jobId, job.requester, request.prompt, request.maxIterations),
      foldedSeq: 0,
      lastStatus: null,
      isBroken: false,
      shownPreviews: new Map(),
      clearedPreviews: new Set(),
    };
    if (ref.threadId) deps.threads.add(ref.threadId, job.jobId);
    return state;
  }

  function fold(state: ThreadState, event: JobEvent): void {
    if (event.seq <= state.foldedSeq) return;
    applyEvent(state.view, event);
    state.foldedSeq = event.seq;
  }

  /** Events before `seq` were delivered before (maybe by an earlier process): fold them silently. */
  function prime(state: ThreadState, seq: number): void {
    if (state.foldedSeq >= seq - 1) return;
    const stored = deps.jobs.events(state.view.jobId, state.foldedSeq);
    if (!stored.ok) return;
    for (const earlier of stored.events) if (earlier.seq < seq) fold(state, earlier);
  }

  async function saveRef(state: ThreadState): Promise<void> {
    const saved = await deps.jobs.setSurfaceRef(state.view.jobId, toSurfaceRef(state.ref));
    // Not fatal: at worst a restart re-posts, and nonces catch that within minutes.
    if (!saved.ok) log.warn({ jobId: state.view.jobId, reason: saved.reason }, "could not store the thread's progress");
  }

  async function ensureThread(state: ThreadState): Promise<void> {
    const { ref, view } = state;
    if (!ref.threadId) {
      const starter = await deps.rest.post(ref.channelId, renderStarter(view), nonceOf(view.jobId, "starter"));
      ref.threadId = await startThreadOn(ref.channelId, starter.id, threadNameOf(view.prompt));
      deps.threads.add(ref.threadId, view.jobId);
      await saveRef(state);
    }
    if (!ref.statusMessageId) {
      const status = renderStatus(view);
      const message = await deps.rest.post(ref.threadId, status, nonceOf(view.jobId, "status"));
      ref.statusMessageId = message.id;
      state.lastStatus = JSON.stringify(status.body);
      await saveRef(state);
    }
    deps.threads.settle(view.jobId, { ok: true, threadId: ref.threadId });
  }

  async function startThreadOn(channelId: string, messageId: string, name: string): Promise<string> {
    try {
      return (await deps.rest.startThread(channelId, messageId, name)).id;
    } catch (error) {
      // A crash after the thread was made but before it was stored: a thread started from a
      // message has that message's id.
      if (error instanceof DiscordAPIError && error.code === RESTJSONErrorCodes.ThreadAlreadyCreatedForMessage) return messageId;
      throw error;
    }
  }

  /** Edits are idempotent; one Discord refuses for good (message deleted) is logged and skipped. */
  async function edit(state: ThreadState, messageId: string | undefined, message: OutgoingMessage): Promise<void> {
    if (!messageId || !state.ref.threadId) return;
    try {
      await deps.rest.edit(state.ref.threadId, messageId, message);
    } catch (error) {
      if (!isPermanentRefusal(error)) throw error;
      log.warn({ jobId: state.view.jobId, err: safeError(error) }, "Discord refused an edit; skipped");
    }
  }

  async function editStatus(state: ThreadState): Promise<void> {
    const status = renderStatus(state.view);
    const key = JSON.stringify(status.body);
    if (key === state.lastStatus) return;
    await edit(state, state.ref.statusMessageId, status);
    state.lastStatus = key;
  }

  /** The event's one new message; marks the event posted once Discord has it. */
  async function post(state: ThreadState, event: JobEvent, message: OutgoingMessage): Promise<string> {
    const posted = await deps.rest.post(state.ref.threadId as string, message, nonceOf(state.view.jobId, String(event.seq)));
    state.ref.renderedSeq = event.seq;
    return posted.id;
  }

  /** Whether a later stored event already makes this one out of date (the bot is behind). */
  function isOvertaken(state: ThreadState, event: JobEvent, isLater: (later: JobEvent) => boolean): boolean {
    const stored = deps.jobs.events(state.view.jobId, event.seq);
    return stored.ok && stored.events.some(isLater);
  }

  async function renderPreview(state: ThreadState, event: Extract<JobEvent, { type: "image.preview" }>): Promise<void> {
    const { view, ref } = state;
    const stored = deps.jobs.events(view.jobId, event.seq);
    if (!stored.ok || isPreviewStale(event, stored.events, startedAtMs)) return;
    const existing = ref.iterationMessages[String(event.n)];
    const hash = event.image?.hash ?? null;
    if (!existing) {
      ref.iterationMessages[String(event.n)] = await post(state, event, renderIterationPreview(view, event.n, { withImage: true }));
      ref.previewIterations.push(event.n);
    } else if (ref.previewIterations.includes(event.n)) {
      // Only a new picture is uploaded again; a new percentage alone is a plain edit.
      await edit(state, existing, renderIterationPreview(view, event.n, { withImage: hash !== null && state.shownPreviews.get(event.n) !== hash }));
    }
    if (hash !== null) state.shownPreviews.set(event.n, hash);
    state.clearedPreviews.delete(event.n);
  }

  /** The final image into the iteration's message, when that message was posted as a preview. */
  async function showFinalImage(state: ThreadState, n: number): Promise<void> {
    const { view, ref } = state;
    const messageId = ref.iterationMessages[String(n)];
    if (!messageId || !ref.previewIterations.includes(n) || iterationOf(view, n)?.imageHash == null) return;
    await edit(state, messageId, renderIteration(view, n, { withImage: true }));
    ref.previewIterations = ref.previewIterations.filter((p) => p !== n);
    state.shownPreviews.delete(n);
  }

  /** Messages that show a preview of an image that will not come (restart, failure, stop) lose it. */
  async function clearStalePreviews(state: ThreadState, note: string): Promise<void> {
    const { view, ref } = state;
    for (const n of ref.previewIterations) {
      const it = iterationOf(view, n);
      const messageId = ref.iterationMessages[String(n)];
      if (!it || !messageId || it.imageHash !== null || state.clearedPreviews.has(n)) continue;
      await edit(state, messageId, renderIterationInterrupted(view, n, it.error ? `⚠️ the image generator failed — ${it.error}` : note));
      state.clearedPreviews.add(n);
      state.shownPreviews.delete(n);
    }
  }

  async function render(state: ThreadState, event: JobEvent): Promise<void> {
    const { view, ref } = state;
    switch (event.type) {
      case "job.queued":
      case "iteration.started":
        await editStatus(state);
        return;
      case "job.started":
        await editStatus(state);
        if (event.resumed) {
          await clearStalePreviews(state, "🔁 drawing again after a restart…");
          await post(state, event, renderResumed(view));
        }
        return;
      case "requirements":
        await post(state, event, renderPlan(view));
        return;
      case "references":
        await post(state, event, renderReferences(event));
        return;
      case "image.preview":
        await renderPreview(state, event);
        return;
      case "image.ready":
        // Skipped when the verdicts are already stored: that edit carries the image with them.
        if (!isOvertaken(state, event, (later) => later.type === "verified" && later.n === event.n)) await showFinalImage(state, event.n);
        return;
      case "iteration.failed":
        if (ref.previewIterations.includes(event.n)) await clearStalePreviews(state, "");
        else await post(state, event, renderIterationFailed(event.n, event.error));
        return;
      case "verified": {
        const existing = ref.iterationMessages[String(event.n)];
        // Posted as a preview: this edit brings the final image. Verified again after feedback
        // added questions: the same message, with the new verdicts.
        if (existing && ref.previewIterations.includes(event.n)) {
          await showFinalImage(state, event.n);
        } else if (existing) {
          await edit(state, existing, renderIteration(view, event.n, { withImage: false }));
        } else {
          ref.iterationMessages[String(event.n)] = await post(state, event, renderIteration(view, event.n, { withImage: true }));
        }
        return;
      }
      case "prompt.refined":
        await edit(state, ref.iterationMessages[String(event.n - 1)], renderIteration(view, event.n - 1, { withImage: false }));
        return;
      case "feedback.added": {
        const source = deps.inbox.take(view.jobId, event.author, event.text);
        if (source) {
          try {
            await deps.rest.react(source.channelId, source.messageId, APPLIED);
          } catch (error) {
            if (!isPermanentRefusal(error)) throw error;
          }
        }
        await post(state, event, renderFeedbackNote(view, event, source?.messageId ?? null));
        return;
      }
      case "job.done":
      case "job.failed":
      case "job.cancelled":
        await editStatus(state);
        await clearStalePreviews(state, "⏹️ stopped before this image was finished.");
        ref.finalMessageId = await post(state, event, renderFinal(view));
        return;
      case "votes.changed": {
        // Votes cast after the end: the final message's vote line, by one edit per burst (the
        // service debounces); skipped when newer counts are stored or the job went on. A job
        // that ended before final messages were remembered has none to edit.
        const later = deps.jobs.events(view.jobId, event.seq);
        if (later.ok && !isVotesSuperseded(later.events)) await edit(state, ref.finalMessageId, renderFinal(view));
        return;
      }
      case "plan.done":
      case "experience":
        return;
    }
  }

  async function deliver(event: JobEvent, job: JobContext): Promise<void> {
    const stored = readDiscordRef(job.surfaceRef);
    if (!stored) {
      log.warn({ jobId: job.jobId }, "a job for Discord has no usable thread reference; its events are skipped");
      return;
    }
    let state = states.get(job.jobId);
    if (!state) {
      state = open(job, stored);
      states.set(job.jobId, state);
    }
    if (state.isBroken) return;
    prime(state, event.seq);
    fold(state, event);
    if (event.type === "job.queued" || event.type === "job.started") refreshRequest(state);
    // Posted before a restart (or before a retry of this very event).
    if (event.seq <= state.ref.renderedSeq) return;
    const renderedBefore = state.ref.renderedSeq;
    const previewsBefore = state.ref.previewIterations.length;
    let hasThread = false;
    try {
      await ensureThread(state);
      hasThread = true;
      await render(state, event);
    } catch (error) {
      const fields = { jobId: job.jobId, seq: event.seq, type: event.type, err: safeError(error) };
      if (!isPermanentRefusal(error)) {
        log.warn(fields, "could not show a job event in Discord; will retry");
        throw error;
      }
      if (hasThread && !isAccessLost(error)) {
        // One message Discord will never take (a payload it rejects): skip it, not the job.
        log.error(fields, "Discord refused a job message; skipped");
        return;
      }
      log.error(fields, "Discord refused the job's messages for good; its thread stops updating");
      state.isBroken = true;
      deps.threads.settle(job.jobId, { ok: false, message: refusalText(error) });
      return;
    }
    if (state.ref.renderedSeq !== renderedBefore || state.ref.previewIterations.length !== previewsBefore) await saveRef(state);
    // A finished job's state is rebuilt from its events if it is continued; no need to keep it.
    if (isFinishedPhase(state.view.phase)) states.delete(job.jobId);
  }

  /** Continue raises the job's maximum; the status line says "of N" with the new one. */
  function refreshRequest(state: ThreadState): void {
    const status = deps.jobs.status(state.view.jobId);
    if (status.ok) state.view.maxIterations = status.job.request.maxIterations;
  }

  return {
    deliver(event, job) {
      const delivery = deliver(event, job);
      const tracked = delivery.catch(() => undefined);
      inFlight.add(tracked);
      void tracked.then(() => inFlight.delete(tracked));
      return delivery;
    },
    async settle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/** Same job and step → same nonce, so Discord returns the first message instead of a second one. */
export function nonceOf(jobId: string, step: string): string {
  const plain = `${jobId}.${step}`;
  if (plain.length <= DISCORD_LIMITS.nonce) return plain;
  return createHash("sha256").update(plain).digest("base64url").slice(0, DISCORD_LIMITS.nonce);
}

/** The thread or the bot's rights to it are gone: every later message would fail the same way. */
function isAccessLost(error: unknown): boolean {
  const codes: unknown[] = [RESTJSONErrorCodes.UnknownChannel, RESTJSONErrorCodes.MissingAccess, RESTJSONErrorCodes.MissingPermissions];
  return error instanceof DiscordAPIError && codes.includes(error.code);
}

function refusalText(error: unknown): string {
  if (error instanceof DiscordAPIError && (error.code === RESTJSONErrorCodes.MissingPermissions || error.code === RESTJSONErrorCodes.MissingAccess)) {
    return "I could not open a thread here: I need the View Channel, Send Messages, Create Public Threads and Send Messages in Threads permissions in this channel.";
  }
  return `Discord refused to open the job's thread (${safeError(error).message}).`;
}
