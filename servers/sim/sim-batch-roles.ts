/**
 * The sim MLLM's answers for the cheaper loop's roles, built from its per-question ones so that
 * every mode decides the same on the sim: the batch verifier answers each question as the
 * verifier would, and the fast refiner writes the compressor's note and the refiner's prompt.
 */
import { sectionOf } from "../../core/agent/prompts.ts";
import type { MllmReply } from "../../core/models/ports.ts";
import { compressorReply, refinerReply } from "./sim-memory-roles.ts";
import { parseChecklist } from "./sim-text-roles.ts";
import { verifierReply } from "./sim-verifier.ts";

/** "1. yes, …" / "2. no, …": one line per numbered question, as the batch verifier prompt asks. */
export function batchVerifierReply(png: Uint8Array | null, questionsText: string, references: readonly Uint8Array[] = []): string {
  return parseChecklist(questionsText)
    .map((line) => `${line.id}. ${verifierReply(png, line.question, references)}`)
    .join("\n");
}

/** "EXPERIENCE: …", a blank line, then the refiner's reasoning and "PROMPT: …". */
export function fastRefinerReply(text: string): MllmReply {
  const note = compressorReply(`${text}\n\n## Results\n${lastResults(text)}`);
  const refined = refinerReply(text);
  return { content: `EXPERIENCE: ${note}\n\n${refined.content}`, reasoning: refined.reasoning };
}

/**
 * The last attempt's results as the compressor is shown them ("[pass] 1. …", "[fail] 2. … (why)"),
 * in checklist order, rebuilt from the attempt's "Passed:" and "Failed:" lines.
 */
function lastResults(text: string): string {
  const numbers = [...text.matchAll(/^## Attempt (\d+)\s*$/gm)].map((m) => Number(m[1]));
  if (numbers.length === 0) return "";
  const body = sectionOf(text, `Attempt ${Math.max(...numbers)}`) ?? "";
  const passed = new Set([...(/^Passed: (.*)$/m.exec(body)?.[1] ?? "").matchAll(/\d+/g)].map((m) => Number(m[0])));
  const failed = new Map(
    body
      .split("\n")
      .flatMap((line) => {
        const match = /^\[fail\] (\d+)\. /.exec(line.trim());
        return match ? [[Number(match[1]), line.trim()] as const] : [];
      }),
  );
  return parseChecklist(sectionOf(text, "Checklist") ?? "")
    .map((line) => (passed.has(line.id) ? `[pass] ${line.id}. ${line.question}` : (failed.get(line.id) ?? `[fail] ${line.id}. ${line.question}`)))
    .join("\n");
}
