/**
 * The simulated multimodal LLM. It reads which GEMS role a conversation is for and answers by
 * rule in the shape that role asks for; it "sees" images only through the scene JSON the sim
 * generator embeds, and says so when an image has none.
 */
import { roleOf, sectionOf } from "../../core/agent/prompts.ts";
import type { Mllm, MllmMessage, MllmReply, MllmRequest } from "../../core/models/ports.ts";
import { simulateLatency } from "./latency.ts";
import { batchVerifierReply, fastRefinerReply } from "./sim-batch-roles.ts";
import { estimateUsage, SimPrefixCache } from "./sim-usage.ts";
import { compressorReply, refinerReply } from "./sim-memory-roles.ts";
import { decomposerReply, editorReply, feedbackReply, plannerReply, rewriterReply } from "./sim-text-roles.ts";
import { verifierReply } from "./sim-verifier.ts";

export interface SimMllmOptions {
  latencyMs?: number;
}

/** Creates the rule-based sim MLLM; deterministic, so the same conversation gets the same reply. */
export function createSimMllm(options: SimMllmOptions = {}): Mllm {
  const cache = new SimPrefixCache();
  return {
    name: "sim",
    async chat(request: MllmRequest): Promise<MllmReply> {
      await simulateLatency(options.latencyMs ?? 0, request.signal);
      const reply = answer(request.messages);
      return { ...reply, usage: estimateUsage(request.messages, reply, cache) };
    },
  };
}

/** What the sim says to a conversation. */
export function answer(messages: readonly MllmMessage[]): MllmReply {
  const text = userText(messages);
  const section = (name: string) => sectionOf(text, name) ?? "";
  switch (roleOf(messages)) {
    case "planner":
      return plain(plannerReply(section("Request"), section("Skills")));
    case "rewriter":
      return plain(rewriterReply(section("Request"), section("Skill instructions")));
    case "decomposer":
      return plain(decomposerReply(section("Request"), userImages(messages).length));
    case "feedback":
      return plain(feedbackReply(section("Request"), section("Checklist"), section("Feedback")));
    case "verifier":
      return plain(verifierReply(userImages(messages)[0] ?? null, section("Question"), userImages(messages).slice(1)));
    case "compressor":
      return plain(compressorReply(text));
    case "refiner":
      return refinerReply(text);
    case "batch-verifier":
      return plain(batchVerifierReply(userImages(messages)[0] ?? null, section("Questions"), userImages(messages).slice(1)));
    case "editor":
      return plain(editorReply(section("Request"), section("Fix (failed)")));
    case "fast-refiner":
      return fastRefinerReply(text);
    default:
      return plain(
        "This is the GEMS simulated model. It answers only the GEMS roles (planner, decomposer, verifier and the rest), " +
          "by fixed rules; configure a real model endpoint for open conversation.",
      );
  }
}

const plain = (content: string): MllmReply => ({ content, reasoning: null });

/** All text of the user messages, parts joined by blank lines so "## Section" headings stay at line starts. */
function userText(messages: readonly MllmMessage[]): string {
  return messages
    .filter((m) => m.role === "user")
    .flatMap((m) => (typeof m.content === "string" ? [m.content] : m.content.flatMap((p) => (p.type === "text" ? [p.text] : []))))
    .join("\n\n");
}

function userImages(messages: readonly MllmMessage[]): Uint8Array[] {
  return messages
    .filter((m) => m.role === "user")
    .flatMap((m) => (typeof m.content === "string" ? [] : m.content.flatMap((p) => (p.type === "image" ? [p.png] : []))));
}
