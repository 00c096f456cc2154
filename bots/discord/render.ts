/**
 * Job views → Discord message payloads. Pure: images are named by hash and loaded by whoever
 * posts, so every payload here can be checked without a network. Everything people typed
 * (prompts, feedback) is truncated against limits.ts and never allowed to ping anyone.
 */
import { escapeMarkdown, type APIAllowedMentions, type APIEmbed, type RESTPostAPIChannelMessageJSONBody } from "discord.js";
import type { JobEvent } from "../../core/agent/events.ts";
import { formatCostLine } from "../../core/jobs/usage-ledger.ts";
import { finalRow, pickRow, stopRow } from "./buttons.ts";
import type { ChecklistMark } from "../../core/memory/checklist.ts";
import type { ImageProvenance } from "../../core/images/provenance.ts";
import { checklistOfIteration, iterationOf, isFinishedPhase, provenanceOf, type IterationView, type JobView } from "./job-view.ts";
import { DISCORD_LIMITS, oneLine, truncate } from "./limits.ts";
import { userIdOf } from "./person.ts";
import { describeTeamVotes } from "../../core/jobs/vote-text.ts";

/** A file to attach: the image by its store hash, under the name the message shows. */
export interface ImageAttachment {
  name: string;
  hash: string;
  /** Written into the uploaded file's metadata (core/images/provenance.ts). */
  provenance?: ImageProvenance;
}

export interface OutgoingMessage {
  body: RESTPostAPIChannelMessageJSONBody;
  images: ImageAttachment[];
  /**
   * For edits: the message's attachments become exactly `images` (a preview is swapped for the
   * next one or for the final image, or removed). Otherwise an edit leaves attachments alone.
   */
  isReplacingImages?: boolean;
}

// Prompts and feedback may contain @everyone or role mentions; none of them may ping.
const NO_PINGS: APIAllowedMentions = { parse: [] };
// Shares of the 6,000 characters all embeds of a message may hold together.
const PROMPT_SHARE = 2000;
const NEXT_PROMPT_SHARE = 1800;

const mention = (view: JobView): string => {
  const id = userIdOf(view.requester);
  return id ? `<@${id}>` : escapeMarkdown(view.requester.name);
};

const score = (passed: number, total: number): string => `${passed}/${total}`;

/** The thread's name: the prompt on one line. */
export function threadNameOf(prompt: string): string {
  return oneLine(prompt, DISCORD_LIMITS.threadName) || "GEMS job";
}

/** The message in the channel that the thread hangs off. */
export function renderStarter(view: JobView): OutgoingMessage {
  const content = `🎨 ${mention(view)} asked GEMS for: ${escapeMarkdown(oneLine(view.prompt, 300))}\nEvery attempt, its checklist and the next prompt are in the thread below.`;
  return { body: { content: truncate(content, DISCORD_LIMITS.messageContent), allowed_mentions: NO_PINGS }, images: [] };
}

function bestPhrase(view: JobView): string {
  const best = view.best;
  return best ? `iteration ${best.n} (${score(best.passed, best.total)} checks)` : "no image yet";
}

/** One line saying where the job is; the status message shows it. */
export function statusLine(view: JobView): string {
  const current = view.iterations.at(-1);
  const of = (n: number) => `iteration ${n} of ${Math.max(view.maxIterations, n)}`;
  switch (view.phase) {
    case "queued":
      return view.position && view.position > 0
        ? `⏳ Queued — number ${view.position} in line; it starts when a slot frees up.`
        : "⏳ Starting…";
    case "planning":
      return "🧭 Planning: choosing a skill and writing the checklist…";
    case "generating":
      return `🎨 Generating ${of(current?.n ?? 1)}…`;
    case "verifying":
      return `🔍 Checking ${of(current?.n ?? 1)} against ${view.requirements.length - view.retiredIds.size} questions…`;
    case "refining":
      return `✍️ Refining the prompt after ${of(current?.n ?? 1)}…`;
    case "done":
      if (view.reason === "all-passed") return `✅ Done — every check passed on ${bestPhrase(view)}.`;
      if (view.reason === "picked") return `📌 Done — ${bestPhrase(view)} was picked.`;
      if (view.reason === "quota") return `🪫 Stopped by a quota — ${oneLine(view.stopMessage ?? "the daily quota is used up", 300)} Best: ${bestPhrase(view)}.`;
      return `🏁 Done after ${view.iterations.length} iterations — the best was ${bestPhrase(view)}.`;
    case "failed":
      return `❌ Failed: ${oneLine(view.error ?? "unknown error", 300)} Best so far: ${bestPhrase(view)}.`;
    case "cancelled":
      return `⏹️ Stopped. Best so far: ${bestPhrase(view)}.`;
  }
}

/** The thread's live status message: where the job is, who asked, and Stop while it runs. */
export function renderStatus(view: JobView): OutgoingMessage {
  const skill = view.skill ? ` · skill: ${view.skill}` : "";
  const content = `**Status:** ${statusLine(view)}\nJob \`${view.jobId}\` · asked by ${mention(view)}${skill}`;
  return {
    body: {
      content: truncate(content, DISCORD_LIMITS.messageContent),
      components: isFinishedPhase(view.phase) ? [] : [stopRow(view.jobId)],
      allowed_mentions: NO_PINGS,
    },
    images: [],
  };
}

/** The plan and the checklist every image is verified against. */
export function renderPlan(view: JobView): OutgoingMessage {
  const skill = view.skill
    ? `🧭 **Plan:** using the skill **${escapeMarkdown(view.skill)}**${view.skillWhy ? ` — ${escapeMarkdown(oneLine(view.skillWhy, 300))}` : ""}`
    : "🧭 **Plan:** no skill fits; the prompt goes to the generator as written.";
  const questions = view.requirements.map((r, i) => `${i + 1}. ${escapeMarkdown(oneLine(r.question, 300))}`);
  const checklist =
    questions.length > 0
      ? `**Checklist** — the yes/no questions every image is checked against:\n${questions.join("\n")}`
      : "**Checklist:** no checkable requirements; the first image is the result.";
  const modes = view.modes ? `\n⚙️ ${view.modes}` : "";
  const voting = "\n🗳️ React 👍 or 👎 on an iteration's message to vote; the team's favourite is noted for the next attempt.";
  return { body: { content: truncate(`${skill}${modes}\n${checklist}${voting}`, DISCORD_LIMITS.messageContent), allowed_mentions: NO_PINGS }, images: [] };
}

const MARKS: Record<ChecklistMark, (question: string) => string> = {
  passed: (q) => `✅ ${q}`,
  failed: (q) => `❌ ${q}`,
  regressed: (q) => `❌ ↩ ${q} — *regressed*`,
  unchecked: (q) => `▫️ ${q} — not asked of this image`,
  retired: (q) => `➖ ~~${q}~~ (replaced)`,
};

/** ✅/❌ per active question (↩ when it passed before), then the replaced ones struck through. */
function checklistOf(view: JobView, iteration: IterationView): string {
  if (iteration.error !== null && iteration.imageHash === null) return `⚠️ The image generator failed: ${oneLine(iteration.error, 400)}`;
  if (!iteration.isVerified) return "🔍 Not checked yet.";
  const { rows } = checklistOfIteration(view, iteration);
  if (rows.length === 0) return "No questions to check.";
  return rows.map((row) => MARKS[row.mark](escapeMarkdown(oneLine(row.question, 300)))).join("\n");
}

/** "5/8 checks passed", and how many of the lines below are regressions or replaced questions. */
function scoreOf(view: JobView, iteration: IterationView): string {
  const lines = checklistOfIteration(view, iteration);
  const notes = [lines.regressed > 0 ? `${lines.regressed} regressed` : null, lines.retired > 0 ? `${lines.retired} replaced` : null].filter(Boolean);
  return `${score(lines.passed, lines.total)} checks passed${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`;
}

/**
 * One attempt: the image, ✅/❌ per question, the prompt used and, once refined, the prompt for
 * the next attempt with what the agent learned and why it chose it.
 */
export function renderIteration(view: JobView, n: number, options: { withImage: boolean }): OutgoingMessage {
  const iteration = iterationOf(view, n);
  if (!iteration) throw new Error(`iteration ${n} of job ${view.jobId} is not in the view`);
  const kind = iteration.edit ? ` · ✏️ edit of iteration ${iteration.edit.fromN}` : "";
  const header = iteration.isVerified
    ? `**Iteration ${n} of ${Math.max(view.maxIterations, n)}**${kind} · ${scoreOf(view, iteration)}`
    : `**Iteration ${n} of ${Math.max(view.maxIterations, n)}**${kind}`;
  const content = truncate(`${header}\n${checklistOf(view, iteration)}`, DISCORD_LIMITS.messageContent);
  const embeds: APIEmbed[] = iteration.edit
    ? [{ title: "Edit instruction", description: truncate(iteration.edit.instruction, PROMPT_SHARE) }]
    : [{ title: "Prompt used", description: truncate(iteration.prompt, PROMPT_SHARE) }];
  if (iteration.next) {
    const fields = [];
    if (iteration.experience) fields.push({ name: "What it learned", value: truncate(iteration.experience, DISCORD_LIMITS.embedFieldValue) });
    if (iteration.next.thought) fields.push({ name: "Why this prompt", value: truncate(iteration.next.thought, DISCORD_LIMITS.embedFieldValue) });
    embeds.push({ title: `Next prompt (iteration ${n + 1})`, description: truncate(iteration.next.prompt, NEXT_PROMPT_SHARE), fields });
  }
  const hasImage = iteration.imageHash !== null;
  return {
    body: {
      content,
      embeds,
      components: hasImage ? [pickRow(view.jobId, n)] : [],
      allowed_mentions: NO_PINGS,
    },
    images: options.withImage && iteration.imageHash ? [{ name: `iteration-${n}.png`, hash: iteration.imageHash, provenance: provenanceOf(view, n, iteration.imageHash) }] : [],
    // The message may show a preview until now; the final image takes its place.
    isReplacingImages: options.withImage && iteration.imageHash !== null,
  };
}

/**
 * An iteration still being drawn: the newest preview and how far along it is. The same message
 * later carries the final image (renderIteration with `isReplacingImages`), so previews cost
 * edits, never messages.
 */
export function renderIterationPreview(view: JobView, n: number, options: { withImage: boolean }): OutgoingMessage {
  const iteration = iterationOf(view, n);
  if (!iteration) throw new Error(`iteration ${n} of job ${view.jobId} is not in the view`);
  const percent = iteration.preview?.percent ?? 0;
  const content = `**Iteration ${n} of ${Math.max(view.maxIterations, n)}** · 🎨 drawing… ${percent}%\n${progressBar(percent)}`;
  const previewHash = iteration.preview?.imageHash ?? null;
  return {
    body: {
      content,
      embeds: [{ title: "Prompt used", description: truncate(iteration.prompt, PROMPT_SHARE) }],
      components: [],
      allowed_mentions: NO_PINGS,
    },
    images: options.withImage && previewHash ? [{ name: `iteration-${n}-preview.png`, hash: previewHash, provenance: provenanceOf(view, n, previewHash) }] : [],
    isReplacingImages: options.withImage && previewHash !== null,
  };
}

/** An iteration message whose preview is stale (the job restarted, failed or stopped): no picture. */
export function renderIterationInterrupted(view: JobView, n: number, note: string): OutgoingMessage {
  const iteration = iterationOf(view, n);
  const content = truncate(`**Iteration ${n} of ${Math.max(view.maxIterations, n)}** · ${note}`, DISCORD_LIMITS.messageContent);
  return {
    body: {
      content,
      embeds: iteration ? [{ title: "Prompt used", description: truncate(iteration.prompt, PROMPT_SHARE) }] : [],
      components: [],
      allowed_mentions: NO_PINGS,
    },
    images: [],
    isReplacingImages: true,
  };
}

const progressBar = (percent: number): string => {
  const filled = Math.round(Math.min(100, Math.max(0, percent)) / 10);
  return `\`${"█".repeat(filled)}${"░".repeat(10 - filled)}\``;
};

function finalLine(view: JobView): string {
  const iterations = view.iterations.length;
  switch (view.phase) {
    case "done":
      if (view.reason === "all-passed") return `✅ **Done** — every check passed on ${bestPhrase(view)}.`;
      if (view.reason === "picked") return `📌 **Done** — ${bestPhrase(view)} is the result.`;
      if (view.reason === "quota") return `🪫 **Stopped by a quota** — ${oneLine(view.stopMessage ?? "the daily quota is used up", 600)}\nBest: ${bestPhrase(view)}.`;
      return `🏁 **Done** — ${iterations} iterations; the best was ${bestPhrase(view)}.`;
    case "failed":
      return `❌ **Failed:** ${oneLine(view.error ?? "unknown error", 600)}\nBest so far: ${bestPhrase(view)}.`;
    case "cancelled":
      return `⏹️ **Stopped.** Best so far: ${bestPhrase(view)}.`;
    default:
      return `Status: ${statusLine(view)}`;
  }
}

/**
 * The result: the best image, why the job stopped, and Refine more / Use this. Also the edit
 * that brings its vote line up to date (votes.changed): an edit leaves the image as it is.
 */
export function renderFinal(view: JobView): OutgoingMessage {
  const best = view.best;
  const hint = "Reply in this thread to say what to change, then press **Refine more**.";
  const votes = describeTeamVotes(view.votes, { isChosenByVotes: view.isChosenByVotes, isAfterEnd: view.isVotedAfterEnd });
  const voteLine = votes ? `\n🗳️ ${votes}` : "";
  const cost = view.usage ? `\n${formatCostLine(view.usage)}` : "";
  const content = truncate(`${mention(view)} ${finalLine(view)}${voteLine}${cost}\n${hint}`, DISCORD_LIMITS.messageContent);
  const userId = userIdOf(view.requester);
  return {
    body: {
      content,
      components: [finalRow(view.jobId, best && view.reason !== "picked" ? best.n : null)],
      // The one message that notifies the requester: their job is over.
      allowed_mentions: userId ? { parse: [], users: [userId] } : NO_PINGS,
    },
    images: best ? [{ name: `best-iteration-${best.n}.png`, hash: best.image.hash, provenance: provenanceOf(view, best.n, best.image.hash) }] : [],
  };
}

type FeedbackAdded = Extract<JobEvent, { type: "feedback.added" }>;

/** The answer to a piece of feedback: the questions it added to (and retired from) the checklist. */
export function renderFeedbackNote(view: JobView, event: FeedbackAdded, replyTo: string | null): OutgoingMessage {
  const lines = [`📝 Feedback from **${escapeMarkdown(event.author)}**: “${escapeMarkdown(oneLine(event.text, 500))}”`];
  const images = event.images?.length ?? 0;
  if (images > 0) lines.push(`🖼️ ${images} image${images === 1 ? "" : "s"} joined the job's references.`);
  for (const q of event.questions) lines.push(`➕ ${escapeMarkdown(oneLine(q.question, 300))}`);
  for (const q of event.retired) lines.push(`➖ ~~${escapeMarkdown(oneLine(q.question, 300))}~~ (replaced)`);
  if (event.questions.length === 0) lines.push("It adds no new check; the refiner still reads it.");
  lines.push(isFinishedPhase(view.phase) ? "Press **Refine more** to try again with it." : "The next attempt and every check after it include it.");
  const body: RESTPostAPIChannelMessageJSONBody = { content: truncate(lines.join("\n"), DISCORD_LIMITS.messageContent), allowed_mentions: NO_PINGS };
  // A reply to a deleted message must still post, so the reference may fail silently.
  if (replyTo) body.message_reference = { message_id: replyTo, fail_if_not_exists: false };
  return { body, images: [] };
}

export function renderResumed(view: JobView): OutgoingMessage {
  const last = view.iterations.at(-1);
  const isLastComplete = last !== undefined && (last.isVerified || last.error !== null);
  const where = !last ? "from the start" : `${isLastComplete ? "after" : "at"} iteration ${last.n} of ${Math.max(view.maxIterations, last.n)}`;
  return { body: { content: `🔁 GEMS Bot restarted; this job resumed ${where}. Nothing is repeated.`, allowed_mentions: NO_PINGS }, images: [] };
}

/** The job's reference images, attached, with what the generator does with them. */
export function renderReferences(event: Extract<JobEvent, { type: "references" }>): OutgoingMessage {
  const count = event.images.length;
  const lines = [
    count > 0 ? `🖼️ **${count} reference image${count === 1 ? "" : "s"}**${event.isUsedByGenerator ? " · sent to the generator" : ""}` : null,
    event.note ? `ℹ️ ${oneLine(event.note, 800)}` : null,
  ].filter((line): line is string => line !== null);
  return {
    body: { content: truncate(lines.join("\n"), DISCORD_LIMITS.messageContent), allowed_mentions: NO_PINGS },
    images: event.images.map((image, i) => ({ name: `reference-${i + 1}.png`, hash: image.hash })),
  };
}

export function renderIterationFailed(n: number, error: string): OutgoingMessage {
  const content = truncate(`⚠️ Iteration ${n}: the image generator failed — ${oneLine(error, 800)}`, DISCORD_LIMITS.messageContent);
  return { body: { content, allowed_mentions: NO_PINGS }, images: [] };
}
