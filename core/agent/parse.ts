/**
 * Readers for model replies. Real models wrap JSON in prose or code fences, number their lists,
 * and hedge; each reader here accepts what a reasonable model says and never throws.
 */
import type { MllmReply } from "../models/ports.ts";

const MAX_QUESTIONS = 24;

/** The first JSON value found in `text`: the whole text, a fenced block, or a balanced {...}/[...]. */
export function extractJson(text: string): unknown {
  const candidates = [text.trim()];
  for (const fenced of text.matchAll(/```(?:json|JSON)?\s*\n?([\s\S]*?)```/g)) {
    if (fenced[1]) candidates.push(fenced[1].trim());
  }
  for (const candidate of candidates) {
    const parsed = tryParse(candidate);
    if (parsed !== undefined) return parsed;
  }
  for (let start = 0; start < text.length; start++) {
    const open = text[start];
    if (open !== "{" && open !== "[") continue;
    const end = matchingBracket(text, start);
    if (end < 0) continue;
    const parsed = tryParse(text.slice(start, end + 1));
    if (parsed !== undefined) return parsed;
  }
  return undefined;
}

function tryParse(text: string): unknown {
  if (!text.startsWith("{") && !text.startsWith("[")) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON; the caller tries the next candidate.
    return undefined;
  }
}

/** Index of the bracket closing the one at `start`, skipping brackets inside strings; -1 if none. */
function matchingBracket(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function cleanQuestions(values: unknown[]): string[] {
  const seen = new Set<string>();
  const questions: string[] = [];
  for (const value of values) {
    const raw = typeof value === "string" ? value : isRecord(value) ? value["question"] : undefined;
    if (typeof raw !== "string") continue;
    const question = raw.replace(/\s+/g, " ").trim();
    const key = question.toLowerCase();
    if (question === "" || seen.has(key)) continue;
    seen.add(key);
    questions.push(question);
  }
  return questions.slice(0, MAX_QUESTIONS);
}

/**
 * Yes/no questions from a decomposer reply: JSON {"questions": [...]} or a bare array when the
 * model complied, otherwise every line that reads as a question ("1. Is there…?", "- Are…?").
 */
export function parseQuestions(text: string): string[] {
  const json = extractJson(text);
  if (Array.isArray(json)) return cleanQuestions(json);
  if (isRecord(json) && Array.isArray(json["questions"])) return cleanQuestions(json["questions"]);
  const lines = text
    .split("\n")
    .map((line) => line.replace(/\*\*/g, "").replace(/^\s*(?:[-*•]|\d+[.)]|Q\d*[:.])\s*/, "").trim())
    .filter((line) => line.endsWith("?") && line.length > 3);
  return cleanQuestions(lines);
}

export interface FeedbackEdit {
  questions: string[];
  /** Checklist numbers the feedback replaces. */
  replaces: number[];
}

export function parseFeedbackEdit(text: string, knownIds: ReadonlySet<number>): FeedbackEdit {
  const json = extractJson(text);
  if (isRecord(json)) {
    const questions = Array.isArray(json["questions"]) ? cleanQuestions(json["questions"]) : [];
    const replaces = Array.isArray(json["replaces"])
      ? json["replaces"].map(Number).filter((id) => Number.isInteger(id) && knownIds.has(id))
      : [];
    return { questions, replaces: [...new Set(replaces)] };
  }
  return { questions: parseQuestions(text), replaces: [] };
}

export interface AnswerVerdict {
  passed: boolean;
  /** Why the answer does not count as a pass; absent for a pass. */
  failure?: string;
}

/**
 * A verifier answer passes only when its first word is "yes". Reading the first word, rather
 * than looking for "yes" anywhere, keeps "No, but yes the cube is red" a failure and
 * "Yes, nothing is missing" a pass. Reasoning models dress the word up: "Answer: Yes",
 * "\\boxed{No}", or a thought left inline before the verdict; those are read through.
 */
export function parseAnswer(text: string): AnswerVerdict {
  const trimmed = verdictText(text);
  if (trimmed === "") return { passed: false, failure: "empty answer" };
  const firstWord = /^[\s*_"'`([]*([A-Za-z]+)/.exec(trimmed)?.[1]?.toLowerCase();
  if (firstWord === "yes") return { passed: true };
  if (firstWord === "no") return { passed: false, failure: reasonAfterVerdict(trimmed) ?? "answered no" };
  return { passed: false, failure: `unclear answer: ${truncate(trimmed, 80)}` };
}

const ANSWER_LABEL = /^[\s#*_]*(?:final\s+)?(?:answer|verdict)[\s*_]*[:：][\s*_]*/i;

/** The part of a verifier reply that holds the verdict. */
function verdictText(text: string): string {
  let rest = withoutInlineThought(text).trim();
  const boxed = /\\boxed\{\s*(?:\\text\{)?\s*([A-Za-z]+)/.exec(rest);
  if (boxed?.[1] && /^(yes|no)$/i.test(boxed[1])) return `${boxed[1]}${rest.slice((boxed.index ?? 0) + boxed[0].length).replace(/^[}\s]+/, " ")}`.trim();
  // "Answer: yes" on a line of its own, after some visible deliberation.
  const labelled = [...rest.matchAll(/^[\s#*_]*(?:final\s+)?(?:answer|verdict)[\s*_]*[:：][\s*_]*(yes|no)\b.*$/gim)].at(-1);
  if (labelled && !/^[\s*_"'`([]*(yes|no)\b/i.test(rest)) return labelled[0].replace(ANSWER_LABEL, "").trim();
  rest = rest.replace(ANSWER_LABEL, "");
  return rest.trim();
}

/** Drops a `<think>…</think>` block, or everything up to a lone `</think>`, left in the content. */
export function withoutInlineThought(text: string): string {
  const close = text.lastIndexOf("</think>");
  if (close >= 0) return text.slice(close + "</think>".length);
  return /^\s*<think>/.test(text) ? "" : text;
}

function reasonAfterVerdict(answer: string): string | undefined {
  const rest = answer.replace(/^[\s*_"'`([]*no\b[\s*_"'`).,:;!-]*/i, "").trim();
  return rest === "" ? undefined : truncate(rest, 120);
}

export interface SkillRoute {
  skill: string | null;
  why: string | null;
}

/** The planner's choice; anything that does not name a known skill means "no skill". */
export function parseSkillRoute(text: string, knownIds: readonly string[]): SkillRoute {
  const json = extractJson(text);
  if (isRecord(json)) {
    const skill = typeof json["skill"] === "string" ? json["skill"].trim() : null;
    const why = typeof json["why"] === "string" ? json["why"].trim() || null : null;
    return { skill: skill && knownIds.includes(skill) ? skill : null, why };
  }
  // A model that ignored the format may still have named exactly one skill.
  const named = knownIds.filter((id) => new RegExp(`\\b${escapeRegExp(id)}\\b`, "i").test(text));
  return { skill: named.length === 1 ? (named[0] ?? null) : null, why: truncate(text.trim(), 200) || null };
}

export interface RefinedPrompt {
  prompt: string;
  thought: string | null;
}

/**
 * A line that labels the prompt: "PROMPT:", "Final prompt:", "**Improved prompt:**",
 * "### Refined prompt", "New image prompt for attempt 3:" and the like. Without a colon it must
 * stand alone on its line (a heading), so a sentence that starts with "Prompt" is not a label.
 */
const LABEL_WORDS = String.raw`(?:(?:final|improved|refined|revised|new|updated|rewritten|next|better|corrected)\s+)?(?:(?:image|generation|text-to-image)\s+)?prompt(?:\s+for\s+(?:attempt|iteration)\s+\d+)?`;
const PROMPT_LABEL = new RegExp(
  String.raw`^[ \t]*(?:#{1,6}[ \t]*)?(?:[*_]{1,2}[ \t]*)?${LABEL_WORDS}(?:[ \t]*[*_]{1,2})?[ \t]*(?:[:：](?:[ \t]*[*_]{1,2})?[ \t]*|$)`,
  "gim",
);
/** A sentence that introduces the prompt on the next lines: "Here is the improved prompt:". */
const INTRO_LINE = /^[^\n]*\bprompt(?:\s+for\s+(?:attempt|iteration)\s+\d+)?[*_]*[ \t]*[:：][ \t*_]*$/gim;
/** Lines that end a prompt: the notes models add after it. */
const TRAILING_NOTE = /^\s*(?:[*_]{0,2}\s*(?:notes?|explanation|rationale|reasoning|why|changes?(?: made)?|this (?:prompt|version|revision)|key changes|i (?:moved|added|kept|changed))\b|---|\*\*\*|\(note)/i;

/**
 * The refiner's prompt, read the way models write it: after the last label (see PROMPT_LABEL),
 * inside a code fence or quotes, with a preamble before it and notes after it. Its thought is
 * the server's reasoning channel when there is one, else the text before the label. Null when
 * no prompt can be told apart from the analysis.
 */
export function parseRefinedPrompt(reply: MllmReply): RefinedPrompt | null {
  const content = withoutInlineThought(reply.content).trim();
  const found = findPrompt(content);
  if (found === null || found.prompt === "") return null;
  return { prompt: found.prompt, thought: reply.reasoning?.trim() || found.before || null };
}

/** The prompt in a reply that was asked for one (refiner, skill rewriter); null when none is found. */
export function extractPrompt(text: string): string | null {
  const found = findPrompt(withoutInlineThought(text).trim());
  return found && found.prompt !== "" ? found.prompt : null;
}

function findPrompt(content: string): { prompt: string; before: string } | null {
  const labels = [...content.matchAll(PROMPT_LABEL), ...content.matchAll(INTRO_LINE)];
  const last = labels.sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).at(-1);
  if (last) {
    const before = content.slice(0, last.index).trim();
    return { prompt: promptAfterLabel(content.slice(last.index + last[0].length)), before };
  }
  const fences = [...content.matchAll(/```[\w-]*[ \t]*\n?([\s\S]*?)```/g)];
  const fenced = fences.at(-1)?.[1];
  if (fenced !== undefined) return { prompt: unwrapPrompt(fenced), before: content.slice(0, fences.at(-1)?.index).trim() };
  const paragraphs = content.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  if (paragraphs.length <= 1) return { prompt: unwrapPrompt(content), before: "" };
  // Several paragraphs and no label: only a paragraph that is wholly quoted reads as the prompt.
  const quoted = paragraphs.filter((p) => /^(["“]).+(["”])$/s.test(p)).at(-1);
  return quoted ? { prompt: unwrapPrompt(quoted), before: "" } : null;
}

/** The prompt that follows a label: a fenced block, or the lines up to a blank line or a note. */
function promptAfterLabel(after: string): string {
  const text = after.replace(/^[ \t]*\n+/, "").replace(/^\s*\n/, "");
  const fence = /^\s*```[\w-]*[ \t]*\n?([\s\S]*?)```/.exec(text);
  if (fence) return unwrapPrompt(fence[1] ?? "");
  const lines: string[] = [];
  for (const line of text.trimStart().split("\n")) {
    if (line.trim() === "" || (lines.length > 0 && TRAILING_NOTE.test(line))) break;
    lines.push(line);
  }
  return unwrapPrompt(lines.join(" "));
}

/** Strips the quoting, bold and fences models put around a prompt they were asked to return bare. */
export function unwrapPrompt(text: string): string {
  let prompt = text.trim().replace(/^```[\w-]*\n?|```$/g, "").trim();
  for (let i = 0; i < 3; i++) {
    const before = prompt;
    // Bold may be split by the label ("Final prompt: **"…"**"), so each side goes on its own.
    prompt = prompt.replace(/^(?:\*\*|__)/, "").replace(/(?:\*\*|__)$/, "").trim();
    if (/^(["'“`]).*(["'”`])$/s.test(prompt)) prompt = prompt.slice(1, -1).trim();
    if (prompt === before) break;
  }
  return prompt.replace(/\s+/g, " ");
}

/** Keeps at most `maxWords` words, so a verbose model cannot flood the next prompt's context. */
export function limitWords(text: string, maxWords: number): string {
  const words = text.trim().split(/\s+/).filter(Boolean);
  return words.length <= maxWords ? words.join(" ") : `${words.slice(0, maxWords).join(" ")}…`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
