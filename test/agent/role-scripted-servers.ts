/**
 * Loopback model servers for agent tests, driven through the real adapters:
 * - an OpenAI-compatible chat server whose answers are scripted per GEMS role, the role read
 *   from the system prompt exactly as a real server would receive it. Unless scripted
 *   themselves, the cheaper loop's roles answer as the per-question roles' scripts would: the
 *   batch verifier with one "k. <verifier answer>" line per question, the fast refiner with
 *   "EXPERIENCE: <compressor answer>" followed by the refiner's answer. So one scenario runs in
 *   every mode, and any difference in what the loop decides is the loop's;
 * - a GEMS generator server whose PNGs carry the attempt number in a text chunk, so a scripted
 *   verifier can tell which image it is looking at.
 */
import { roleOf, sectionOf, type Role } from "../../core/agent/prompts.ts";
import type { FeedbackInput } from "../../core/agent/run-job.ts";
import { encodePng, readPngText } from "../../core/images/png.ts";
import { createOpenAiCompatibleMllm } from "../../core/models/openai-compatible-mllm.ts";
import { createGemsHttpGenerator } from "../../core/models/gems-http-generator.ts";
import type { ImageGenerator, Mllm } from "../../core/models/ports.ts";
import { chatCompletion, startFakeOpenAi, type FakeOpenAi, type FakeReply } from "../fakes/openai-server.ts";
import { pngReply, startFakeGemsGenerator, type FakeGemsGenerator, type GenerateCall } from "../fakes/gems-generator-server.ts";

export interface ChatCall {
  role: Role | null;
  /** All text of the user message, sections and all. */
  text: string;
  /** Attempt numbers of the images in the message, in order. */
  attempts: number[];
  /** How many calls this role had before this one. */
  index: number;
  body: any;
}

export type RoleScript = Partial<Record<Role, (call: ChatCall) => FakeReply | string>>;

const DEFAULT_SCRIPT: Required<RoleScript> = {
  planner: () => '{"skill": null, "why": "no skill fits"}',
  rewriter: (call) => `rewritten: ${call.text}`,
  decomposer: () => '{"questions": ["Is there a cube?", "Is the cube red?"]}',
  feedback: () => '{"questions": [], "replaces": []}',
  verifier: () => "yes",
  compressor: (call) => `experience ${call.index + 1}`,
  refiner: (call) => `thinking about attempt ${call.attempts.at(-1)}\nPROMPT: prompt ${call.attempts.length + 1}`,
  editor: (call) => `fix what failed in attempt ${call.attempts.at(-1)}\nEDIT: edit ${call.index + 1}`,
  "batch-verifier": () => {
    throw new Error("composed from the verifier script in startScriptedMllm");
  },
  "fast-refiner": () => {
    throw new Error("composed from the compressor and refiner scripts in startScriptedMllm");
  },
};

/** Content and reasoning of a scripted reply, or the reply itself when it is an error. */
function replyParts(answer: FakeReply | string): { content: string; reasoning: string | null } | FakeReply {
  if (typeof answer === "string") return { content: answer, reasoning: null };
  if ((answer.status ?? 200) >= 400 || !answer.json) return answer;
  const message = (answer.json as any).choices?.[0]?.message ?? {};
  return { content: String(message.content ?? ""), reasoning: typeof message.reasoning_content === "string" ? message.reasoning_content : null };
}

const isReply = (value: unknown): value is FakeReply => typeof value === "object" && value !== null && !("content" in value);

export interface ScriptedMllm {
  mllm: Mllm;
  server: FakeOpenAi;
  calls: ChatCall[];
  callsOf(role: Role): ChatCall[];
  close(): Promise<void>;
}

export async function startScriptedMllm(script: RoleScript = {}): Promise<ScriptedMllm> {
  const calls: ChatCall[] = [];
  const counts = new Map<Role | null, number>();
  const server = await startFakeOpenAi({
    chat: (body) => {
      const messages = (body.messages ?? []) as Array<{ role: string; content: unknown }>;
      const role = roleOf(messages.map((m) => ({ role: m.role as "system", content: typeof m.content === "string" ? m.content : "" })));
      const parts = messages.filter((m) => m.role === "user").flatMap((m) => (Array.isArray(m.content) ? m.content : [{ type: "text", text: m.content }]));
      const text = parts.filter((p: any) => p.type === "text").map((p: any) => p.text as string).join("\n");
      const attempts = parts
        .filter((p: any) => p.type === "image_url")
        .map((p: any) => Number(readPngText(Buffer.from((p.image_url.url as string).split(",")[1] ?? "", "base64"))["attempt"]));
      const next = (r: Role | null): number => {
        const index = counts.get(r) ?? 0;
        counts.set(r, index + 1);
        return index;
      };
      const call: ChatCall = { role, text, attempts, index: next(role), body };
      calls.push(call);
      const answerAs = (r: Role, derived: ChatCall) => (script[r] ?? DEFAULT_SCRIPT[r])(derived);
      if (role === "batch-verifier" && !script["batch-verifier"]) {
        const questions = (sectionOf(text, "Questions") ?? "").split("\n").map((line) => line.replace(/^\d+\.\s*/, ""));
        const lines: string[] = [];
        for (const [k, question] of questions.entries()) {
          const parts = replyParts(answerAs("verifier", { role: "verifier", text: `## Question\n${question}`, attempts, index: next("verifier"), body }));
          if (isReply(parts)) return parts;
          lines.push(`${k + 1}. ${parts.content}`);
        }
        return chatCompletion(lines.join("\n"));
      }
      if (role === "fast-refiner" && !script["fast-refiner"]) {
        const note = replyParts(answerAs("compressor", { role: "compressor", text, attempts, index: next("compressor"), body }));
        if (isReply(note)) return note;
        // The full refiner would have seen an image of every attempt that produced one.
        const shown = [...text.matchAll(/^## Attempt (\d+)\n(?:(?!## )[\s\S])*/gm)]
          .filter((m) => !/^Generation failed:/m.test(m[0]))
          .map((m) => Number(m[1]));
        const refined = replyParts(answerAs("refiner", { role: "refiner", text, attempts: shown, index: next("refiner"), body }));
        if (isReply(refined)) return refined;
        return chatCompletion(`EXPERIENCE: ${note.content}\n\n${refined.content}`, refined.reasoning !== null ? { reasoning_content: refined.reasoning } : {});
      }
      const answer = role ? answerAs(role, call) : "ok";
      return typeof answer === "string" ? chatCompletion(answer) : answer;
    },
  });
  const mllm = createOpenAiCompatibleMllm({
    baseUrl: server.url,
    model: "fake-vl",
    timeoutMs: 2_000,
    maxRetries: 2,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
  return { mllm, server, calls, callsOf: (role) => calls.filter((c) => c.role === role), close: server.close };
}

/** A small real PNG whose text chunk says which attempt made it. */
export function attemptPng(attempt: number): Uint8Array {
  const rgba = new Uint8Array(4 * 4 * 4).fill(attempt * 20);
  return encodePng({ width: 4, height: 4, rgba, text: { attempt: String(attempt) } });
}

export interface ScriptedGenerator {
  generator: ImageGenerator;
  server: FakeGemsGenerator;
  calls: GenerateCall[];
  close(): Promise<void>;
}

/** Answers call k (from 0) with attemptPng(k + 1) unless the script says otherwise. */
export async function startScriptedGenerator(
  script: (call: GenerateCall, index: number) => FakeReply | undefined = () => undefined,
  options: { timeoutMs?: number; maxRetries?: number } = {},
): Promise<ScriptedGenerator> {
  const calls: GenerateCall[] = [];
  const server = await startFakeGemsGenerator((call, index) => {
    calls.push(call);
    return script(call, index) ?? pngReply(attemptPng(index + 1));
  });
  const generator = createGemsHttpGenerator({
    url: server.url,
    timeoutMs: options.timeoutMs ?? 2_000,
    maxRetries: options.maxRetries ?? 1,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
  return { generator, server, calls, close: server.close };
}

/** The attempt number a verifier call is looking at, and the question asked. */
export function verifierView(call: ChatCall): { attempt: number; question: string } {
  return { attempt: call.attempts[0] ?? 0, question: /## Question\n(.*)/.exec(call.text)?.[1]?.trim() ?? "" };
}

/**
 * Ana asks for a shiny cube while iteration 1's experience is written (the compressor's first
 * call puts it in `inbox`). The verifier passes "red" from attempt 2 and "shiny" from attempt 3,
 * so the feedback's own question is what keeps the job running to iteration 3.
 */
export function shinyCubeFeedbackScript(): { inbox: FeedbackInput[]; script: RoleScript } {
  const inbox: FeedbackInput[] = [];
  return {
    inbox,
    script: {
      verifier: (call) => {
        const { attempt, question } = verifierView(call);
        if (question.includes("red")) return attempt >= 2 ? "yes" : "no";
        if (question.includes("shiny")) return attempt >= 3 ? "yes" : "no";
        return "yes";
      },
      feedback: () => '{"questions": ["Is the cube shiny?"], "replaces": []}',
      compressor: (call) => {
        if (call.index === 0) inbox.push({ author: "ana", text: "make it shiny" });
        return `experience ${call.index + 1}`;
      },
    },
  };
}
