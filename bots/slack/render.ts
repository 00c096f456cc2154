/**
 * Job events as Slack messages: the status card (the thread's root, edited as the job moves),
 * thread replies (plan, iterations, feedback, resume) and the final reply with its buttons.
 * Pure functions of the job's status, so the same event renders the same after a restart.
 */
import { describeSkillStat, type TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { types } from "@slack/bolt";
import type { BestView, RequirementView, UsageView, VoteCount } from "../../core/agent/events.ts";
import { formatCostLine } from "../../core/jobs/usage-ledger.ts";
import type { JobStatus } from "../../core/jobs/types.ts";
import { describeTeamVotes } from "../../core/jobs/vote-text.ts";
import { checklistLines, type ChecklistMark } from "../../core/memory/checklist.ts";
import { describeModes, regressionsOf, type StopReason, type Trajectory, type Verdict } from "../../core/memory/trajectory.ts";
import type { SkillSummary } from "../../core/skills/types.ts";
import { PICK_ACTION, REFINE_ACTION, STOP_ACTION, button } from "./buttons.ts";
import { SLACK_LIMITS, truncate, truncateMrkdwn } from "./limits.ts";
import { escapeMrkdwn, mention, quoteMrkdwn } from "./mrkdwn.ts";
import { slackUserOf } from "./people.ts";

export interface SlackMessage {
  /** Notification and screen-reader text; also the whole message when there are no blocks. */
  text: string;
  blocks?: types.KnownBlock[];
}

const PROMPT_SHOWN = 600;
const QUESTION_SHOWN = 300;
const ERROR_SHOWN = 500;

const section = (text: string): types.SectionBlock => ({
  type: "section",
  text: { type: "mrkdwn", text: truncateMrkdwn(text, SLACK_LIMITS.sectionText) },
});

const context = (text: string): types.ContextBlock => ({
  type: "context",
  elements: [{ type: "mrkdwn", text: truncateMrkdwn(text, SLACK_LIMITS.contextText) }],
});

const fitText = (text: string): string => truncateMrkdwn(text, SLACK_LIMITS.messageText);

function fitBlocks(blocks: types.KnownBlock[]): types.KnownBlock[] {
  return blocks.slice(0, SLACK_LIMITS.blocksPerMessage);
}

function requesterLabel(status: JobStatus): string {
  const user = slackUserOf(status.requester.id);
  return user ? mention(user) : `*${escapeMrkdwn(status.requester.name)}*`;
}

function skillLabel(t: Trajectory): string {
  const chosen = t.request.skill;
  if (chosen === "none") return "no skill";
  if (chosen !== "auto") return `skill \`${escapeMrkdwn(chosen)}\``;
  if (t.plan === null) return "skill: auto";
  return t.plan.skill ? `skill \`${escapeMrkdwn(t.plan.skill)}\` (picked by the planner)` : "no skill (the planner chose none)";
}

const checks = (n: number): string => `${n} check${n === 1 ? "" : "s"}`;

function bestLine(best: { n: number; passed: number; total: number } | null): string {
  return best ? `best: iteration ${best.n}, ${best.passed}/${best.total} passed` : "no image yet";
}

/** The newest live preview of the iteration being drawn: only its percent is shown on Slack. */
export interface PreviewProgress {
  n: number;
  percent: number;
}

/** One line saying where the job is. */
export function statusLine(status: JobStatus, preview: PreviewProgress | null = null): string {
  const t = status.trajectory;
  switch (status.status) {
    case "queued":
      return status.position ? `⏳ Queued, #${status.position} in line` : "⏳ Starting…";
    case "running": {
      const k = t.iterations.length;
      if (k === 0) return "🔄 Planning and writing the checklist…";
      const drawing = preview && preview.n === k && t.iterations[k - 1]?.imageHash === null ? ` · 🎨 drawing… ${preview.percent}%` : "";
      return `🔄 Iteration ${k} of ${t.request.maxIterations}${drawing} · ${bestLine(status.best)}`;
    }
    case "done":
      return `✅ ${finishPhrase(status.stopReason, status.best, t)}`;
    case "failed":
      return `❌ Failed: ${escapeMrkdwn(truncate(status.error ?? "unknown error", ERROR_SHOWN))}`;
    case "cancelled":
      return `⏹ Stopped · ${bestLine(status.best)}`;
  }
}

function finishPhrase(reason: StopReason | null, best: JobStatus["best"], t: Trajectory): string {
  const n = best?.n ?? t.iterations.length;
  switch (reason) {
    case "all-passed":
      return `Done: all ${checks(best?.total ?? 0)} passed on iteration ${n}`;
    case "picked":
      return `Done: iteration ${n} was picked`;
    case "quota":
      return `Stopped by a quota · ${bestLine(best)}`;
    default:
      return `Done after ${t.iterations.length} iteration${t.iterations.length === 1 ? "" : "s"} · ${bestLine(best)}`;
  }
}

/** The first channel message: prompt, requester, skill, status; Stop while the job can be stopped. */
export function renderStatusCard(status: JobStatus, preview: PreviewProgress | null = null): SlackMessage {
  const t = status.trajectory;
  const isActive = status.status === "queued" || status.status === "running";
  const blocks: types.KnownBlock[] = [
    section(`🎨 *GEMS* image for ${requesterLabel(status)}\n${quoteMrkdwn(truncate(t.request.prompt, PROMPT_SHOWN))}`),
    context(`${skillLabel(t)} · up to ${t.request.maxIterations} iterations · job \`${status.jobId}\``),
    section(statusLine(status, preview)),
  ];
  if (isActive) {
    blocks.push({ type: "actions", block_id: `status-${status.jobId}`, elements: [button(STOP_ACTION, "Stop", { jobId: status.jobId }, "danger")] });
  } else {
    blocks.push(context("Replies in this thread are feedback for the next attempt."));
  }
  return {
    text: fitText(`GEMS: ${escapeMrkdwn(truncate(t.request.prompt, PROMPT_SHOWN))} (${statusLine(status, preview)})`),
    blocks: fitBlocks(blocks),
  };
}

/** The plan and the checklist, once the decomposer wrote it. */
export function renderPlan(status: JobStatus, questions: readonly RequirementView[]): SlackMessage {
  const t = status.trajectory;
  const why = t.plan?.why ? ` ${escapeMrkdwn(truncate(t.plan.why, QUESTION_SHOWN))}` : "";
  const list = questions.map((q, i) => `${i + 1}. ${escapeMrkdwn(truncate(q.question, QUESTION_SHOWN))}`).join("\n");
  const text = [
    `🧭 *Plan:* ${skillLabel(t)}.${why}${describeModes(t.modes) ? ` (${describeModes(t.modes)})` : ""}`,
    questions.length > 0
      ? `*Checklist* (${checks(questions.length)} the verifier asks about every image):\n${list}`
      : "The request had nothing the verifier can check, so one image will do.",
    "_Reply in this thread to steer the next attempt._",
  ].join("\n");
  return { text: fitText(text) };
}

const MARKS: Record<ChecklistMark, (question: string) => string> = {
  passed: (q) => `✅ ${q}`,
  failed: (q) => `❌ ${q}`,
  regressed: (q) => `❌ ↩ ${q} _(regressed: it passed before)_`,
  unchecked: (q) => `▫️ ${q} _(not asked of this image)_`,
  // Slack's mrkdwn strikes through with single tildes.
  retired: (q) => `➖ ~${q}~ _(replaced)_`,
};

/**
 * The comment uploaded with an iteration's image: the checklist with verdicts (↩ on a regression,
 * questions that feedback replaced struck through below the rest), and the prompt. The header
 * counts the active lines, so it always matches what sits under it.
 */
export function renderIterationComment(status: JobStatus, n: number, verdicts: readonly Verdict[], regressions?: readonly number[]): string {
  const t = status.trajectory;
  const iteration = t.iterations.find((it) => it.n === n);
  const requirements = (t.requirements ?? []).map((r) => ({ id: r.id, question: r.question, retired: r.retiredByFeedbackId !== undefined }));
  const isActive = (id: number) => !requirements.some((r) => r.id === id && r.retired);
  const regressed = (regressions ?? (iteration ? regressionsOf(t, iteration) : [])).filter(isActive);
  const lines = checklistLines(requirements, verdicts, regressed);
  const rows = lines.rows.map((row) => MARKS[row.mark](escapeMrkdwn(truncate(row.question, QUESTION_SHOWN))));
  const notes = [lines.regressed > 0 ? `${lines.regressed} regressed` : null, lines.retired > 0 ? `${lines.retired} replaced` : null].filter(Boolean);
  const kind = iteration?.edit ? ` · ✏️ edit of iteration ${iteration.edit.fromN}` : "";
  const parts = [`*Iteration ${n} of ${t.request.maxIterations}*${kind} · ${lines.passed}/${lines.total} passed${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`, ...rows];
  if (iteration?.edit) {
    parts.push(`*Edit instruction:*\n${quoteMrkdwn(truncate(iteration.edit.instruction, PROMPT_SHOWN))}`);
  } else if (iteration) {
    parts.push(`*Prompt:*\n${quoteMrkdwn(truncate(iteration.prompt, PROMPT_SHOWN))}`);
    if (iteration.thought) parts.push(`_Why this prompt:_ ${escapeMrkdwn(truncate(iteration.thought, QUESTION_SHOWN))}`);
  }
  return fitText(parts.join("\n"));
}

/** The job's reference images as a line, and what the generator does with them. */
export function renderReferences(count: number, isUsedByGenerator: boolean, note: string | null): SlackMessage {
  const head = count > 0 ? `🖼️ ${count} reference image${count === 1 ? "" : "s"}${isUsedByGenerator ? ", sent to the generator" : ""}.` : "";
  return { text: fitText([head, note ? `ℹ️ ${escapeMrkdwn(note)}` : ""].filter(Boolean).join(" ")) };
}

export function renderIterationFailed(n: number, error: string): SlackMessage {
  return { text: fitText(`⚠️ Iteration ${n} produced no image: ${escapeMrkdwn(truncate(error, ERROR_SHOWN))}`) };
}

export function renderFeedbackAdded(
  author: string,
  text: string,
  questions: readonly RequirementView[],
  retired: readonly RequirementView[],
  images = 0,
): SlackMessage {
  const attached = images > 0 ? ` (with ${images} image${images === 1 ? "" : "s"}, now a reference)` : "";
  const parts = [`📝 Feedback from *${escapeMrkdwn(author)}*${attached}:\n${quoteMrkdwn(truncate(text, PROMPT_SHOWN))}`];
  if (questions.length > 0) {
    parts.push(`Added to the checklist:\n${questions.map((q) => `• ${escapeMrkdwn(truncate(q.question, QUESTION_SHOWN))}`).join("\n")}`);
  } else {
    parts.push("Nothing new to check: the checklist already covers it. The refiner will still read it.");
  }
  if (retired.length > 0) {
    parts.push(`No longer checked:\n${retired.map((q) => `• ~${escapeMrkdwn(truncate(q.question, QUESTION_SHOWN))}~`).join("\n")}`);
  }
  return { text: fitText(parts.join("\n")) };
}

export function renderResumed(status: JobStatus): SlackMessage {
  const done = status.trajectory.iterations.filter((it) => it.isVerified).length;
  return { text: `♻️ GEMS Bot restarted; this job resumed where it left off (after ${done} finished iteration${done === 1 ? "" : "s"}).` };
}

export function renderContinued(status: JobStatus): SlackMessage {
  const t = status.trajectory;
  const extra = t.request.maxIterations - t.iterations.length;
  return { text: `🔁 Refining further: up to ${extra} more iteration${extra === 1 ? "" : "s"}, with everything learned so far.` };
}

export type Ending = (
  /** `isVotedAfterEnd`: `votes` include some cast after the end (a votes.changed). */
  | { kind: "done"; reason: StopReason; votes?: VoteCount[]; isChosenByVotes?: boolean; isVotedAfterEnd?: boolean }
  | { kind: "failed"; error: string }
  | { kind: "cancelled" }
) & { usage?: UsageView; message?: string };

/** The last reply: why the job ended, the best image, and what can be done next; also its update when votes change after the end. */
export function renderFinal(status: JobStatus, ending: Ending, best: BestView | null, fileId: string | null): SlackMessage {
  const t = status.trajectory;
  const summary = best ? `Iteration ${best.n} passed ${best.passed} of ${checks(best.total)}.` : "There is no image to show.";
  let headline: string;
  switch (ending.kind) {
    case "done":
      headline =
        ending.reason === "all-passed"
          ? `🏁 *Every check passed* on iteration ${best?.n ?? t.iterations.length}.`
          : ending.reason === "picked"
            ? `📌 *Iteration ${best?.n ?? "?"} is the result.*`
            : ending.reason === "quota"
              ? `🪫 *Stopped by a quota:* ${escapeMrkdwn(truncate(ending.message ?? "the daily quota is used up", ERROR_SHOWN))}`
              : `🏁 *Reached the limit of ${t.request.maxIterations} iterations.* Here is the image that passed the most checks.`;
      break;
    case "failed":
      headline = `❌ *The job failed:* ${escapeMrkdwn(truncate(ending.error, ERROR_SHOWN))}`;
      break;
    case "cancelled":
      headline = "⏹ *Stopped.*";
      break;
  }
  const votes = ending.kind === "done" ? describeTeamVotes(ending.votes, { isChosenByVotes: ending.isChosenByVotes === true, isAfterEnd: ending.isVotedAfterEnd === true }) : null;
  const voteLine = votes ? `\n🗳️ ${votes}` : "";
  const cost = ending.usage ? `\n${escapeMrkdwn(formatCostLine(ending.usage))}` : "";
  const blocks: types.KnownBlock[] = [section(`${headline}\n${summary}${voteLine}${cost}`)];
  if (best && fileId) {
    blocks.push({
      type: "image",
      slack_file: { id: fileId },
      alt_text: truncate(`Best image, iteration ${best.n}: ${t.request.prompt}`, SLACK_LIMITS.imageAltText),
      title: { type: "plain_text", text: truncate(`Iteration ${best.n} · ${best.passed}/${best.total} passed`, SLACK_LIMITS.imageTitle) },
    });
  }
  const buttons: types.Button[] = [button(REFINE_ACTION, "Refine more", { jobId: status.jobId }, "primary")];
  const isPicked = ending.kind === "done" && ending.reason === "picked";
  if (best && !isPicked) buttons.push(button(PICK_ACTION, "Use this", { jobId: status.jobId, n: best.n }));
  blocks.push({ type: "actions", block_id: `final-${status.jobId}-${status.lastSeq}`, elements: buttons });
  blocks.push(context("Reply in this thread with what to change, then press *Refine more*."));
  return { text: fitText(`${headline} ${summary}${voteLine}`), blocks: fitBlocks(blocks) };
}

export function renderSkills(skills: readonly SkillSummary[]): SlackMessage {
  if (skills.length === 0) return { text: "No skills are installed, so every job runs without one." };
  const lines = skills.map((s) => `• \`${escapeMrkdwn(s.id)}\` *${escapeMrkdwn(s.name)}*: ${escapeMrkdwn(truncate(s.description, QUESTION_SHOWN))}`);
  return { text: fitText(`*Skills* (use with \`/gems <prompt> --skill <id>\`; \`auto\` lets the planner choose, \`none\` uses none):\n${lines.join("\n")}`) };
}

/** `/gems skills` with team skills marked and each skill's numbers beside the no-skill baseline. */
export function renderSkillListing(listing: ReturnType<TeamSkillsService["list"]>): SlackMessage {
  if (listing.skills.length === 0) return { text: "No skills are installed, so every job runs without one." };
  const lines = listing.skills.map((s) => {
    const numbers = s.stat ? describeSkillStat(s.stat).replace(/^[^—]*— /, "") : "no finished jobs yet";
    return `• \`${escapeMrkdwn(s.id)}\` *${escapeMrkdwn(s.name)}*${s.isTeamSkill ? " (team)" : ""}: ${escapeMrkdwn(truncate(s.description, QUESTION_SHOWN))}\n    ↳ ${escapeMrkdwn(numbers)}`;
  });
  if (listing.noSkill) lines.push(`_${escapeMrkdwn(describeSkillStat(listing.noSkill))}_`);
  return {
    text: fitText(
      "*Skills* (use with `/gems <prompt> --skill <id>`; `auto` lets the planner choose, `none` uses none; set yours with `/gems skill default <id>`). " +
        `Numbers: finished jobs, share whose best image passed every check, images per such success; beside them, jobs without a skill on prompts with as many checks.\n${lines.join("\n")}`,
    ),
  };
}

export function renderHelp(): SlackMessage {
  return {
    text: [
      "*GEMS* makes an image, checks it against a list of yes/no questions, and refines it until they pass.",
      "• `/gems <prompt>`: start a job in this channel. Options: `--skill <id|auto|none>`, `--iterations <1-10>`.",
      "• `/gems`: the same, in a form with the skills to pick from.",
      "• `/gems skills`: list the skills, with how well each does.",
      "• `/gems skill default <id|auto|none>`: the skill your jobs use when you name none.",
      "• `/gems skill add` (admins): share a SKILL.md in this channel first; it adds or replaces that skill.",
      "• `@GEMS <prompt>` in a channel, or a direct message to the bot, starts a job too (same options).",
      "• React :+1: or :-1: on an iteration's image to vote; the team's favourite is noted for the next attempt.",
      "• `/gems usage [30d]`: your jobs' tokens, images and cost (admins: the team's).",
      "• Reply in a job's thread to give feedback: it becomes new checks for the next image.",
      "• Buttons: *Stop* a running job, *Use this* image as the result, *Refine more* a finished one.",
    ].join("\n"),
  };
}
