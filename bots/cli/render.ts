/** Turns job events into the CLI's lines: one line per step, checklists indented below. */
import type { AgentEvent, UsageView } from "../../core/agent/events.ts";
import { checklistLines, type ChecklistMark } from "../../core/memory/checklist.ts";
import { formatCostLine } from "../../core/jobs/usage-ledger.ts";
import { describeVotes } from "../../core/jobs/vote-text.ts";
import { describeModes } from "../../core/memory/trajectory.ts";

export interface RenderContext {
  maxIterations: number;
  /** Requirement id → question, kept current as feedback changes the checklist. */
  questions: Map<number, string>;
  /** Requirements feedback replaced; filled as feedback events arrive. */
  retired?: Set<number>;
  /** Where an iteration's image was written, for the line that announces it. */
  imagePath(n: number): string;
  bestPath: string;
}

const MAX_PROMPT_CHARS = 160;

const CLI_MARKS: Record<Exclude<ChecklistMark, "retired">, string> = { passed: "✓", failed: "✗", regressed: "✗ ↩", unchecked: "·" };

function clip(text: string, max = MAX_PROMPT_CHARS): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export function renderEvent(event: AgentEvent, ctx: RenderContext): string[] {
  const tag = (n: number): string => `[${n}/${ctx.maxIterations}]`;
  switch (event.type) {
    case "job.queued":
      return [`queued at position ${event.position}`];
    case "job.started":
      return [event.resumed ? "resumed from memory" : "started"];
    case "plan.done":
      return [
        `plan: ${event.skill ? `skill ${event.skill}` : "no skill"}${event.why ? ` (${clip(event.why, 100)})` : ""}${describeModes(event.modes) ? `; ${describeModes(event.modes)}` : ""}`,
        `  prompt: ${clip(event.prompt)}`,
      ];
    case "requirements":
      for (const q of event.questions) ctx.questions.set(q.id, q.question);
      return event.questions.length === 0
        ? ["checklist: nothing to check; one plain generation"]
        : [`checklist: ${event.questions.length} questions`, ...event.questions.map((q) => `  ${q.id}. ${q.question}`)];
    case "references": {
      const lines = [`references: ${event.images.length} image${event.images.length === 1 ? "" : "s"}${event.isUsedByGenerator ? ", sent to the generator" : ""}`];
      if (event.note) lines.push(`  note: ${event.note}`);
      return lines;
    }
    case "iteration.started":
      return event.edit
        ? [`${tag(event.n)} editing image ${event.edit.fromN}: ${clip(event.edit.instruction)}`]
        : [`${tag(event.n)} generating: ${clip(event.prompt)}`];
    case "image.preview":
      // Progress belongs to the live status line, not to the log of steps.
      return [];
    case "image.ready":
      return [`${tag(event.n)} image: ${ctx.imagePath(event.n)}`];
    case "iteration.failed":
      return [`${tag(event.n)} generation failed: ${event.error}`];
    case "verified": {
      // A terminal cannot be trusted to strike text through, so replaced questions are left
      // out of the lines and the header says how many; the count covers exactly the lines shown.
      const retired = ctx.retired ?? new Set<number>();
      const requirements = [...ctx.questions].map(([id, question]) => ({ id, question, retired: retired.has(id) }));
      const checklist = checklistLines(requirements, event.verdicts, event.regressions ?? []);
      const notes = [
        checklist.regressed > 0 ? `${checklist.regressed} regressed` : null,
        checklist.retired > 0 ? `${checklist.retired} replaced question${checklist.retired === 1 ? "" : "s"} left out` : null,
      ].filter(Boolean);
      const lines = [`${tag(event.n)} verified: ${checklist.passed}/${checklist.total} passed${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`];
      for (const row of checklist.rows) {
        if (row.mark === "retired") continue;
        const why = row.verdict?.failure ? ` (${clip(row.verdict.failure, 80)})` : "";
        lines.push(`  ${CLI_MARKS[row.mark]} ${row.requirementId}. ${row.question}${why}${row.mark === "regressed" ? " (regressed: it passed before)" : ""}`);
      }
      return lines;
    }
    case "experience":
      return [`${tag(event.n)} experience: ${clip(event.text, 240)}`];
    case "feedback.added": {
      for (const q of event.questions) ctx.questions.set(q.id, q.question);
      if (event.retired.length > 0) {
        ctx.retired ??= new Set();
        for (const q of event.retired) ctx.retired.add(q.id);
      }
      const attached = event.images?.length ? ` (+${event.images.length} image${event.images.length === 1 ? "" : "s"})` : "";
      const lines = [`feedback from ${event.author}: ${clip(event.text)}${attached}`];
      for (const q of event.questions) lines.push(`  + ${q.id}. ${q.question}`);
      for (const q of event.retired) lines.push(`  - ${q.id}. ${q.question}`);
      return lines;
    }
    case "prompt.refined":
      return [`${tag(event.n)} next prompt: ${clip(event.prompt)}`];
    case "job.done": {
      const reason = {
        "all-passed": "every requirement passed",
        "max-iterations": "reached the iteration limit",
        picked: "an image was picked",
        stopped: "stopped",
        quota: `stopped by a quota: ${(event.message ?? "the daily quota is used up").replace(/\.$/, "")}`,
      }[event.reason];
      const best = event.best ? ` best: iteration ${event.best.n} (${event.best.passed}/${event.best.total}) → ${ctx.bestPath}` : "";
      return [`done: ${reason}.${best}`, ...costLines(event)];
    }
    case "job.failed":
      return [`failed: ${event.error}${event.best ? ` (best so far: iteration ${event.best.n} → ${ctx.bestPath})` : ""}`, ...costLines(event)];
    case "job.cancelled":
      return [`cancelled${event.best ? ` (best so far: iteration ${event.best.n} → ${ctx.bestPath})` : ""}`, ...costLines(event)];
    case "votes.changed":
      // Votes cast after the end: the CLI has usually exited by then, but a replay shows them.
      return [`team votes now: ${describeVotes(event.votes) ?? "none"}`];
  }
}

/** What the live progress line says while the step after `event` runs. */
export function activityAfter(event: AgentEvent, activeQuestions: number): string | null {
  switch (event.type) {
    case "job.started":
      return "planning and writing the checklist";
    case "iteration.started":
      return `generating image ${event.n}`;
    case "image.preview":
      return `generating image ${event.n}: ${event.percent}% drawn`;
    case "image.ready":
      return `verifying image ${event.n} against ${activeQuestions} questions`;
    case "verified":
      return event.passed === event.total ? null : `writing the experience of attempt ${event.n}`;
    case "experience":
      return `refining the prompt for attempt ${event.n + 1}`;
    default:
      return null;
  }
}

/** The job's cost (or tokens and images when unpriced), when the final event carries it. */
const costLines = (event: { usage?: UsageView }): string[] => (event.usage ? [formatCostLine(event.usage)] : []);
