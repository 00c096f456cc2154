/**
 * Readers for the replies of the cheaper loop's two roles: the batch verifier (one line per
 * question) and the fast refiner (an experience and a prompt in one reply). Like parse.ts, they
 * accept what a reasonable model writes and never throw.
 */
import type { MllmReply } from "../models/ports.ts";
import { extractJson, parseRefinedPrompt, type RefinedPrompt } from "./parse.ts";

/**
 * The same first-word rule as parseAnswer: an answer is readable when it starts with "yes" or
 * "no". Anything else ("Not sure", "Maybe", nothing) is asked again on its own.
 */
export function readsAsYesOrNo(answer: string): boolean {
  const firstWord = /^[\s*_"'`([]*([A-Za-z]+)/.exec(answer.trim())?.[1]?.toLowerCase();
  return firstWord === "yes" || firstWord === "no";
}

// "1. yes", "1) yes", "(1) yes", "**1.** yes", "Q2: no", "Question 3 - no", "Answer 4: yes", "#5 yes", "- 6. no"
const NUMBERED_LINE =
  /^\s*(?:[-*•>]\s*)?(?:\*\*|__)?(?:(?:q(?:uestion)?|a(?:nswer)?)\s*)?[#(]?\s*(\d{1,3})\s*\)?(?:\*\*|__)?\s*(?:[.):\-–—]|(?=\s))(?:\*\*|__)?\s*(.*)$/i;

/**
 * The answer to each of `questions` (numbered 1..k in the prompt) from a batch verifier reply,
 * or null for a question whose answer cannot be told apart: missing, or given twice with
 * different verdicts. Lines may come in any order; prose around them is ignored; a question the
 * model echoed before its answer is dropped; an answer on the line after its number is taken.
 */
export function parseBatchAnswers(text: string, questions: readonly string[]): Array<string | null> {
  const fromJson = answersFromJson(text, questions.length);
  if (fromJson) return fromJson;
  // "1. yes 2. no 3. yes" on one line: each later numbered verdict starts a line of its own.
  const lined = text
    .split(/\r?\n|\r/)
    .map((line) => {
      const rest = NUMBERED_LINE.exec(line)?.[2];
      if (rest === undefined) return line;
      return line.slice(0, line.length - rest.length) + rest.replace(/[ \t]+(\d{1,3})\s*[.):]\s*(?=(?:yes|no)\b)/gi, "\n$1. ");
    })
    .join("\n");
  const candidates: string[][] = questions.map(() => []);
  let current: { index: number; text: string } | null = null;
  const flush = () => {
    if (current && current.text.trim() !== "") candidates[current.index]?.push(current.text.trim());
    current = null;
  };
  for (const line of lined.split("\n")) {
    const match = NUMBERED_LINE.exec(line);
    const number = match ? Number(match[1]) : NaN;
    if (match && number >= 1 && number <= questions.length) {
      flush();
      const index = number - 1;
      current = { index, text: withoutEcho(match[2] ?? "", questions[index] ?? "") };
      continue;
    }
    if (match && current && current.text.trim() !== "") {
      // A number that names no question ends the answer before it rather than joining it.
      flush();
      continue;
    }
    if (line.trim() === "") {
      // A blank line ends an answer unless the answer has not started yet ("1. Is there…?\n\nYes").
      if (current && current.text.trim() !== "") flush();
      continue;
    }
    if (current) {
      current.text = current.text.trim() === "" ? line.trim() : `${current.text} ${line.trim()}`;
    }
  }
  flush();
  if (candidates.every((lines) => lines.length === 0)) return unnumbered(lined, questions.length);
  return candidates.map(pickAnswer);
}

/**
 * A reply with no numbers at all: taken in order only when exactly one yes/no line per question
 * stands in it, so that a stray line can never shift an answer onto the wrong question.
 */
function unnumbered(text: string, count: number): Array<string | null> {
  const answers = text
    .split("\n")
    .map((line) => line.replace(/^\s*[-*•]\s*/, "").trim())
    .filter(readsAsYesOrNo);
  return answers.length === count ? answers : Array.from({ length: count }, () => null);
}

/** One answer from the lines given for one number: the first readable one, unless they disagree. */
function pickAnswer(lines: readonly string[]): string | null {
  const readable = lines.filter(readsAsYesOrNo);
  if (readable.length === 0) return lines[0] ?? null;
  const verdicts = new Set(readable.map((line) => firstWord(line)));
  return verdicts.size === 1 ? (readable[0] ?? null) : null;
}

const firstWord = (answer: string): string => /^[\s*_"'`([]*([A-Za-z]+)/.exec(answer)?.[1]?.toLowerCase() ?? "";

/** Drops the question when the model repeated it before answering: "Is the cube red? — Yes, …". */
function withoutEcho(answer: string, question: string): string {
  const normalized = (text: string) => text.toLowerCase().replace(/[*_`"]/g, "").trim();
  const plain = answer.replace(/[*_`]/g, "");
  const q = normalized(question).replace(/[?.!]+$/, "");
  if (q !== "" && normalized(plain).startsWith(q)) {
    return plain.slice(q.length).replace(/^[\s?.!:;,\-–—]*/, "").trim();
  }
  return answer.trim();
}

/** `{"answers": [...]}`, `["yes", ...]`, `{"1": "yes", ...}` or `[{"n": 1, "answer": "yes"}]`. */
function answersFromJson(text: string, count: number): Array<string | null> | null {
  const json = extractJson(text);
  if (json === undefined || json === null || typeof json !== "object") return null;
  const list = Array.isArray(json) ? json : Array.isArray((json as Record<string, unknown>)["answers"]) ? ((json as Record<string, unknown>)["answers"] as unknown[]) : null;
  const answers: Array<string | null> = Array.from({ length: count }, () => null);
  if (list) {
    list.forEach((item, position) => {
      if (typeof item === "string") {
        if (position < count) answers[position] = item;
        return;
      }
      if (typeof item !== "object" || item === null) return;
      const record = item as Record<string, unknown>;
      const number = Number(record["n"] ?? record["number"] ?? record["id"] ?? record["question"] ?? position + 1);
      const answer = record["answer"] ?? record["verdict"];
      const why = typeof record["reason"] === "string" ? `, ${record["reason"]}` : "";
      const text = typeof answer === "string" ? answer : typeof answer === "boolean" ? (answer ? "yes" : "no") : null;
      if (text !== null && Number.isInteger(number) && number >= 1 && number <= count) answers[number - 1] = `${text}${why}`;
    });
    return answers.some((a) => a !== null) ? answers : null;
  }
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const number = Number(/\d+/.exec(key)?.[0]);
    if (typeof value === "string" && Number.isInteger(number) && number >= 1 && number <= count) answers[number - 1] = value;
  }
  return answers.some((a) => a !== null) ? answers : null;
}

export interface FastRefinement {
  /** The note after "EXPERIENCE:", or the text before the prompt when the marker is missing; null if there is none. */
  experience: string | null;
  refined: RefinedPrompt | null;
}

const PROMPT_LINE = /^\s*(?:\*\*)?PROMPT(?:\*\*)?\s*:/im;
const EXPERIENCE_MARKER = /^\s*(?:[#>*_\s]*)EXPERIENCE(?:\*\*|__)?\s*:(?:\*\*|__)?[ \t]*/im;

/**
 * A fast refiner reply: "EXPERIENCE: …" (that line and any lines up to a blank one or the
 * prompt), then the reasoning, then "PROMPT: …". The thought kept for the next iteration is the
 * server's reasoning channel if any, else the text between the experience and the prompt,
 * exactly as the refiner's is.
 */
export function parseFastRefinement(reply: MllmReply): FastRefinement {
  const content = reply.content.trim();
  const marker = EXPERIENCE_MARKER.exec(content);
  if (!marker) {
    // Without the marker, the text before the prompt is the best note there is; without either
    // marker the whole reply is read as the prompt, as the refiner's is.
    const prompt = PROMPT_LINE.exec(content);
    const before = prompt ? content.slice(0, prompt.index).trim() : "";
    return { experience: before || null, refined: parseRefinedPrompt(reply) };
  }
  const after = content.slice(marker.index + marker[0].length);
  const lines = after.split("\n");
  const noteLines: string[] = [];
  let rest = 0;
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "" || PROMPT_LINE.test(line)) break;
    noteLines.push(line.trim());
    rest = i + 1;
  }
  const experience = noteLines.join(" ").trim() || null;
  const remainder = [content.slice(0, marker.index), lines.slice(rest).join("\n")].join("\n").trim();
  const refined = parseRefinedPrompt({ ...reply, content: remainder });
  return { experience, refined };
}
