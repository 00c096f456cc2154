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
 * "Yes, nothing is missing" a pass.
 */
export function parseAnswer(text: string): AnswerVerdict {
  const trimmed = text.trim();
  if (trimmed === "") return { passed: false, failure: "empty answer" };
  const firstWord = /^[\s*_"'`([]*([A-Za-z]+)/.exec(trimmed)?.[1]?.toLowerCase();
  if (firstWord === "yes") return { passed: true };
  if (firstWord === "no") return { passed: false, failure: reasonAfterVerdict(trimmed) ?? "answered no" };
  return { passed: false, failure: `unclear answer: ${truncate(trimmed, 80)}` };
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
 * The refiner's prompt is whatever follows the last "PROMPT:" line. Its thought is the
 * server's reasoning channel when there is one, else the text before that line.
 */
export function parseRefinedPrompt(reply: MllmReply): RefinedPrompt | null {
  const content = reply.content.trim();
  const markers = [...content.matchAll(/^\s*(?:\*\*)?PROMPT(?:\*\*)?\s*:(?:\*\*)?/gim)];
  const last = markers.at(-1);
  const before = last ? content.slice(0, last.index).trim() : "";
  const after = last ? content.slice(last.index + last[0].length) : content;
  const prompt = unwrapPrompt(after);
  if (prompt === "") return null;
  const thought = reply.reasoning?.trim() || before || null;
  return { prompt, thought };
}

/** Strips the quoting and fences models put around a prompt they were asked to return bare. */
export function unwrapPrompt(text: string): string {
  let prompt = text.trim().replace(/^```\w*\n?|```$/g, "").trim();
  if (/^(["'“]).*(["'”])$/s.test(prompt)) prompt = prompt.slice(1, -1).trim();
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
