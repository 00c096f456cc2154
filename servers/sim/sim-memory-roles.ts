/**
 * The sim MLLM's memory roles: the compressor (a short experience per attempt) and the refiner
 * (the next prompt, from the checklist and the last attempt's results).
 */
import { sectionOf } from "../../core/agent/prompts.ts";
import type { MllmReply } from "../../core/models/ports.ts";
import { refinePrompt } from "./refine-prompt.ts";
import { parseChecklist } from "./sim-text-roles.ts";

interface Result {
  id: number;
  question: string;
  passed: boolean;
  why: string | null;
}

const MAX_WORDS = 90;

/** The experience note: what failed, what to move forward, and any human feedback. */
export function compressorReply(text: string): string {
  const results = parseResults(sectionOf(text, "Results") ?? "");
  const feedback = feedbackLines(text);
  const failed = results.filter((r) => !r.passed);
  const parts: string[] = [];
  if (results.length === 0) {
    parts.push("No results were recorded for this attempt; try the prompt again.");
  } else if (failed.length === 0) {
    parts.push(`All ${results.length} requirements passed with this prompt; keep its order and wording.`);
  } else {
    const named = failed.slice(0, 3).map((r) => `${r.question}${r.why ? ` (${r.why})` : ""}`);
    const more = failed.length > 3 ? ` and ${failed.length - 3} more` : "";
    parts.push(`${results.length - failed.length} of ${results.length} passed. Missed: ${named.join("; ")}${more}.`);
    parts.push("Next prompt: name the missed requirements first and repeat them; keep the ones that passed in place.");
  }
  if (feedback.length) parts.push(`Human feedback comes first: ${feedback.join(" ")}`);
  return limitWords(parts.join(" "), MAX_WORDS);
}

/** The next prompt after a "PROMPT:" line, with the reasoning also returned as `reasoning`. */
export function refinerReply(text: string): MllmReply {
  const request = sectionOf(text, "Request") ?? "";
  const checklist = parseChecklist(sectionOf(text, "Checklist") ?? "");
  const attempt = lastAttempt(text);
  const feedback = feedbackLines(text);
  if (!attempt) {
    const reasoning = "There is no earlier attempt to learn from, so I keep the request as the prompt.";
    return { content: `${reasoning}\nPROMPT: ${request}`, reasoning };
  }
  if (attempt.generationFailed) {
    const reasoning = `Attempt ${attempt.n} produced no image, so there is nothing to correct; I try the same prompt again.`;
    return { content: `${reasoning}\nPROMPT: ${attempt.prompt}`, reasoning };
  }
  const refined = refinePrompt({ request, checklist, lastPrompt: attempt.prompt, passedIds: attempt.passed });
  const missed = refined.promoted.map((line) => line.question);
  const reasoning = [
    missed.length
      ? `Attempt ${attempt.n} missed ${missed.length} of ${checklist.length}: ${missed.join(" ")}`
      : `Attempt ${attempt.n} missed nothing I can name.`,
    feedback.length ? `Human feedback comes first: ${feedback.join(" ")}` : null,
    "The generator renders what comes first and what is repeated most reliably, so I name the missed requirements first, " +
      "repeat them at the end, and keep the ones that passed in their earlier order.",
  ]
    .filter((line) => line !== null)
    .join(" ");
  return { content: `${reasoning}\nPROMPT: ${refined.prompt}`, reasoning };
}

function parseResults(text: string): Result[] {
  return text.split("\n").flatMap((line) => {
    const match = /^\[(pass|fail)\]\s+(\d+)\.\s+(.*?)(?:\s+\(([^()]*)\))?\s*$/.exec(line.trim());
    if (!match) return [];
    return [{ id: Number(match[2]), question: match[3]!, passed: match[1] === "pass", why: match[4] ?? null }];
  });
}

interface AttemptSummary {
  n: number;
  prompt: string;
  passed: Set<number>;
  generationFailed: boolean;
}

/** The highest-numbered "## Attempt n" section. */
function lastAttempt(text: string): AttemptSummary | null {
  const numbers = [...text.matchAll(/^## Attempt (\d+)\s*$/gm)].map((m) => Number(m[1]));
  if (numbers.length === 0) return null;
  const n = Math.max(...numbers);
  const body = sectionOf(text, `Attempt ${n}`) ?? "";
  const prompt = /^Prompt: ([\s\S]*?)(?=\n(?:Generation failed:|Passed:)|$)/m.exec(body)?.[1]?.trim() ?? "";
  const passedLine = /^Passed: (.*)$/m.exec(body)?.[1] ?? "none";
  const passed = new Set([...passedLine.matchAll(/\d+/g)].map((m) => Number(m[0])));
  return { n, prompt, passed, generationFailed: /^Generation failed:/m.test(body) };
}

function feedbackLines(text: string): string[] {
  const heading = text.split("\n").find((line) => line.startsWith("## Human feedback"));
  const body = heading ? sectionOf(text, heading.slice(3).trim()) : null;
  return (body ?? "")
    .split("\n")
    .map((line) => line.replace(/^-\s*/, "").trim())
    .filter((line) => line !== "");
}

function limitWords(text: string, max: number): string {
  const words = text.split(/\s+/);
  return words.length <= max ? text : `${words.slice(0, max).join(" ")}…`;
}
