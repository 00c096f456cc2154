/**
 * Every prompt the GEMS roles send, in one place. The wording is the project's own.
 *
 * Format rules, which parsers (and the simulated MLLM) rely on:
 * - every system prompt opens with "You are the GEMS <role>" naming one of ROLES;
 * - data goes in the user message under "## <Section>" headings, one blank line between sections;
 * - checklist lines are "<id>. <question>"; result lines are "[pass] <id>. <question>" or
 *   "[fail] <id>. <question> (<why>)".
 *
 * Order, so that servers with prefix caching (OpenAI, vLLM, sglang) reuse work between calls:
 * what stays the same across a job's calls of one role comes first (system prompt, request,
 * checklist, skills), then what only grows (earlier attempts and experiences), and what is new
 * in this call comes last. The per-question verifier is the exception: its image comes before
 * the question, because the same image is asked every question of an iteration.
 */
import type { MllmMessage, MllmPart } from "../models/ports.ts";
import type { SkillSummary } from "../skills/types.ts";

export const ROLES = [
  "planner",
  "rewriter",
  "decomposer",
  "feedback",
  "verifier",
  "compressor",
  "refiner",
  // GEMS_VERIFY_MODE=batch: one call answers every question about an image.
  "batch-verifier",
  // GEMS_LOOP=fast: one call writes the compressor's experience and the refiner's prompt.
  "fast-refiner",
  // GEMS_REFINE_MODE=edit: an edit instruction that repairs the best image's failed requirements.
  "editor",
] as const;
export type Role = (typeof ROLES)[number];

/** The role a conversation was written for, read from the opening of its system prompt. */
export function roleOf(messages: readonly MllmMessage[]): Role | null {
  const system = messages.find((m) => m.role === "system");
  if (!system || typeof system.content !== "string") return null;
  const match = /^You are the GEMS ([\w-]+)/.exec(system.content);
  const role = match?.[1];
  return (ROLES as readonly string[]).includes(role ?? "") ? (role as Role) : null;
}

/** Text of a "## name" section in a block of prompt text, or null when absent. */
export function sectionOf(text: string, name: string): string | null {
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.trim() === `## ${name}`);
  if (start < 0) return null;
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith("## ")) break;
    body.push(line);
  }
  return body.join("\n").trim();
}

export interface ChecklistLine {
  id: number;
  question: string;
}

export interface ResultLine extends ChecklistLine {
  passed: boolean;
  why?: string;
}

export interface AttemptView {
  n: number;
  prompt: string;
  png: Uint8Array | null;
  results: ResultLine[];
  experience: string | null;
  error?: string;
}

export interface FeedbackView {
  author: string;
  text: string;
}

const system = (text: string): MllmMessage => ({ role: "system", content: text });

function sections(entries: Array<[string, string | null | undefined]>): string {
  return entries
    .filter((entry): entry is [string, string] => typeof entry[1] === "string" && entry[1].trim() !== "")
    .map(([name, body]) => `## ${name}\n${body.trim()}`)
    .join("\n\n");
}

export const REFERENCES_HEADING = "Reference images";

/**
 * The reference images as message parts: a heading that numbers them, then the images in order.
 * Always after what they are compared with, so the first image of a verifier call stays the one
 * judged.
 */
export function referenceParts(references: readonly Uint8Array[]): MllmPart[] {
  if (references.length === 0) return [];
  return [
    {
      type: "text",
      text: sections([
        [
          REFERENCES_HEADING,
          `${references.length} reference image(s) the person sent follow, numbered 1 to ${references.length} in order. ` +
            "Keep what the request takes from them (objects, layout, look) unless the request says otherwise.",
        ],
      ]),
    },
    ...references.map((png): MllmPart => ({ type: "image", png })),
  ];
}

/** Whether a checklist question is about the reference images, so the verifier must see them. */
export const isReferenceQuestion = (question: string): boolean => /\breference\b/i.test(question);

const withReferences = (text: string, references: readonly Uint8Array[]): string | MllmPart[] =>
  references.length === 0 ? text : [{ type: "text", text }, ...referenceParts(references)];

const checklistText = (lines: readonly ChecklistLine[]): string =>
  lines.map((line) => `${line.id}. ${line.question}`).join("\n");

export const resultText = (lines: readonly ResultLine[]): string =>
  lines
    .map((line) =>
      line.passed
        ? `[pass] ${line.id}. ${line.question}`
        : `[fail] ${line.id}. ${line.question}${line.why ? ` (${line.why})` : ""}`,
    )
    .join("\n");

const feedbackText = (feedback: readonly FeedbackView[]): string =>
  feedback.map((entry) => `- ${entry.author}: ${entry.text}`).join("\n");

const FEEDBACK_HEADING = "Human feedback (follow it; it outranks the experiences)";

export function plannerMessages(request: string, manifest: readonly SkillSummary[], references: readonly Uint8Array[] = []): MllmMessage[] {
  const skills = manifest.map((skill) => `- ${skill.id}: ${skill.description.replace(/\s+/g, " ")}`).join("\n");
  return [
    system(
      "You are the GEMS planner. You decide whether one skill from a library should guide an image request. " +
        "Pick a skill only when its description clearly matches what the request needs; otherwise pick none. " +
        "Never pick more than one. " +
        'Reply with JSON only, in the form {"skill": "<skill id>" or null, "why": "<one short sentence>"}.',
    ),
    { role: "user", content: withReferences(sections([["Skills", skills], ["Request", request]]), references) },
  ];
}

export function rewriterMessages(request: string, instructions: string): MllmMessage[] {
  return [
    system(
      "You are the GEMS rewriter. You turn an image request into a single prompt for a text-to-image model, " +
        "following the skill instructions you are given. Keep every object, count, colour, position and quoted " +
        "text that the request names. Reply with the prompt only: no preface, no quotes, no notes.",
    ),
    { role: "user", content: sections([["Skill instructions", instructions], ["Request", request]]) },
  ];
}

export function decomposerMessages(request: string, references: readonly Uint8Array[] = []): MllmMessage[] {
  return [
    system(
      "You are the GEMS decomposer. You break an image request into atomic yes/no questions that someone " +
        "could answer by looking at the finished image. Ask one question per object, count, colour or other " +
        "attribute, spatial relation, and piece of text the request names; a correct image answers yes to " +
        "every one. Ask about style or mood only when the request asks for it. " +
        'Reply with JSON only, in the form {"questions": ["...", "..."]}; reply {"questions": []} when ' +
        "nothing in the request can be checked. When reference images come with the request, also ask what the " +
        'image must keep from each, naming it by number, e.g. "Does the image keep the objects and layout of reference image 1?".',
    ),
    { role: "user", content: withReferences(sections([["Request", request]]), references) },
  ];
}

export function feedbackMessages(
  request: string,
  checklist: readonly ChecklistLine[],
  feedback: FeedbackView,
  images: readonly Uint8Array[] = [],
): MllmMessage[] {
  return [
    system(
      "You are the GEMS feedback editor. A person commented on images made for a request. Turn the comment " +
        "into atomic yes/no questions that the next image must pass, and list the numbers of checklist " +
        "questions that the comment contradicts or replaces (for example, a colour change replaces the old " +
        "colour question). A comment that asks for nothing checkable gives no questions. " +
        'Reply with JSON only, in the form {"questions": ["..."], "replaces": [2, 5]}.',
    ),
    {
      role: "user",
      // Images attached to the comment ("like this one") follow it as reference images.
      content: withReferences(
        sections([
          ["Request", request],
          ["Checklist", checklistText(checklist) || "(empty)"],
          ["Feedback", `${feedback.author}: ${feedback.text}`],
        ]),
        images,
      ),
    },
  ];
}

/** `references` go after the judged image, so it stays the first image of the call. */
export function verifierMessages(png: Uint8Array, question: string, references: readonly Uint8Array[] = []): MllmMessage[] {
  return [
    system(
      "You are the GEMS verifier. Look at the image and answer one question about it. Begin your answer " +
        'with the single word "yes" or "no", then give a short reason. Answer "no" when the image does not ' +
        "clearly show what the question asks about.",
    ),
    {
      role: "user",
      content: [
        { type: "image", png },
        ...referenceParts(references),
        { type: "text", text: sections([["Question", question]]) },
      ],
    },
  ];
}

export interface CompressorInput {
  request: string;
  prompt: string;
  thought: string | null;
  png: Uint8Array;
  results: readonly ResultLine[];
  feedback: readonly FeedbackView[];
  earlierExperiences: ReadonlyArray<{ n: number; text: string }>;
}

export function compressorMessages(input: CompressorInput): MllmMessage[] {
  const earlier = input.earlierExperiences.map((e) => `Attempt ${e.n}: ${e.text}`).join("\n");
  return [
    system(
      "You are the GEMS compressor. You write the experience of one attempt at an image request: a short " +
        "note, under 100 words, that tells the next attempt what this prompt did, what the image got right " +
        "and wrong, and what to change. Human feedback outranks your own judgement. Reply with the note only.",
    ),
    {
      role: "user",
      content: [
        {
          type: "text",
          text: sections([
            ["Request", input.request],
            [FEEDBACK_HEADING, feedbackText(input.feedback)],
            ["Earlier experiences", earlier],
            ["Prompt used", input.prompt],
            ["Thought before generation", input.thought],
            ["Results", resultText(input.results)],
          ]),
        },
        { type: "image", png: input.png },
      ],
    },
  ];
}

export interface RefinerInput {
  request: string;
  checklist: readonly ChecklistLine[];
  feedback: readonly FeedbackView[];
  attempts: readonly AttemptView[];
}

/**
 * `maxImages` caps the images sent, for servers that take only so many per request: the
 * latest attempts keep theirs, and the message says how many earlier images were left out.
 */
export function refinerMessages(input: RefinerInput, maxImages = Number.POSITIVE_INFINITY): MllmMessage[] {
  const withImage = input.attempts.filter((attempt) => attempt.png !== null).map((attempt) => attempt.n);
  const shown = new Set(withImage.slice(Math.max(0, withImage.length - maxImages)));
  const leftOut = withImage.length - shown.size;
  const parts: MllmPart[] = [
    {
      type: "text",
      text: sections([
        ["Request", input.request],
        ["Checklist", checklistText(input.checklist)],
        [FEEDBACK_HEADING, feedbackText(input.feedback)],
      ]),
    },
  ];
  for (const attempt of input.attempts) {
    parts.push({ type: "text", text: attemptText(attempt) });
    if (attempt.png && shown.has(attempt.n)) parts.push({ type: "image", png: attempt.png });
  }
  if (leftOut > 0) {
    parts.push({
      type: "text",
      text: `(The images of ${leftOut} earlier attempt(s) are left out: the model server takes at most ${shown.size} image(s) per request. Their prompts and results above still count.)`,
    });
  }
  const next = (input.attempts.at(-1)?.n ?? 0) + 1;
  parts.push({
    type: "text",
    text: sections([
      [
        "Task",
        `Write the prompt for attempt ${next}. Fix every failed requirement without losing any that passed.`,
      ],
    ]),
  });
  return [
    system(
      "You are the GEMS refiner. You write the next prompt for a text-to-image model from the history of " +
        "attempts at one request. Fix every failed requirement without losing one that passed; follow human " +
        "feedback first, then the lessons in the experiences. Text-to-image models render most reliably what " +
        "a prompt names first and what it repeats. Think it through, then give the final prompt on a line of " +
        'its own that starts with "PROMPT:".',
    ),
    { role: "user", content: parts },
  ];
}

function attemptText(attempt: AttemptView): string {
  const passed = attempt.results.filter((r) => r.passed);
  const failed = attempt.results.filter((r) => !r.passed);
  const lines = [
    `## Attempt ${attempt.n}`,
    `Prompt: ${attempt.prompt}`,
    attempt.error ? `Generation failed: ${attempt.error}` : null,
    `Passed: ${passed.length ? passed.map((r) => r.id).join(", ") : "none"}`,
    failed.length ? `Failed:\n${resultText(failed)}` : "Failed: none",
    attempt.experience ? `Experience: ${attempt.experience}` : null,
  ];
  return lines.filter((line) => line !== null).join("\n");
}

/**
 * GEMS_VERIFY_MODE=batch: every pending question about one image in one call. The questions
 * come before the image: they repeat from one iteration to the next, the image does not.
 * Numbering is 1..k in this call, whatever the requirements' ids, so the model never has to
 * copy an id it was not shown in order.
 */
export function batchVerifierMessages(png: Uint8Array, questions: readonly string[], references: readonly Uint8Array[] = []): MllmMessage[] {
  return [
    system(
      "You are the GEMS batch-verifier. Look at the image and answer every question in the list about it. " +
        'Give one line per question, in order, that starts with the question\'s number and then the single word "yes" ' +
        'or "no", followed by a short reason, like "1. yes, the cube is red". Answer "no" when the image does not ' +
        "clearly show what the question asks about. Answer every question and write nothing else.",
    ),
    {
      role: "user",
      content: [
        { type: "text", text: sections([["Questions", questions.map((q, i) => `${i + 1}. ${q}`).join("\n")]]) },
        { type: "image", png },
        ...referenceParts(references),
      ],
    },
  ];
}

export interface FastRefinerInput {
  request: string;
  checklist: readonly ChecklistLine[];
  feedback: readonly FeedbackView[];
  /**
   * Every attempt so far, oldest first; the last one is the attempt to write the experience of.
   * Only the last one's image is sent: earlier images are represented by their results and
   * experiences, which is what experiences are for, and it keeps the call at one image.
   */
  attempts: readonly AttemptView[];
  /** The reasoning that produced the last attempt's prompt. */
  thought: string | null;
}

/** GEMS_LOOP=fast: the compressor's and the refiner's work in one call. */
export function fastRefinerMessages(input: FastRefinerInput): MllmMessage[] {
  const parts: MllmPart[] = [
    {
      type: "text",
      text: sections([
        ["Request", input.request],
        ["Checklist", checklistText(input.checklist)],
        [FEEDBACK_HEADING, feedbackText(input.feedback)],
      ]),
    },
  ];
  for (const attempt of input.attempts) parts.push({ type: "text", text: attemptText(attempt) });
  const last = input.attempts.at(-1);
  const n = last?.n ?? 0;
  if (input.thought) parts.push({ type: "text", text: sections([[`Thought before attempt ${n}`, input.thought]]) });
  if (last?.png) parts.push({ type: "image", png: last.png });
  parts.push({
    type: "text",
    text: sections([
      [
        "Task",
        `Write the experience of attempt ${n} (its image is above), then the prompt for attempt ${n + 1}. ` +
          "Fix every failed requirement without losing any that passed.",
      ],
    ]),
  });
  return [
    system(
      "You are the GEMS fast-refiner. You do two jobs in one reply for an image request that is refined " +
        "attempt by attempt. First, the experience of the latest attempt: a note under 100 words that tells the " +
        "next attempt what its prompt did, what the image got right and wrong, and what to change, on one line " +
        'that starts with "EXPERIENCE:". Then the next prompt for the text-to-image model: fix every failed ' +
        "requirement without losing one that passed; follow human feedback first, then the lessons in the " +
        "experiences. Text-to-image models render most reliably what a prompt names first and what it repeats. " +
        'Think it through, then give the final prompt on a line of its own that starts with "PROMPT:".',
    ),
    { role: "user", content: parts },
  ];
}

export interface EditorInput {
  request: string;
  feedback: readonly FeedbackView[];
  /** The image to edit (the best so far) and its results against the current checklist. */
  png: Uint8Array;
  n: number;
  results: readonly ResultLine[];
  references: readonly Uint8Array[];
}

/**
 * GEMS_REFINE_MODE=edit: one instruction for an image-editing model that repairs only what
 * failed. What passed is listed too, as what the edit must leave alone.
 */
export function editorMessages(input: EditorInput): MllmMessage[] {
  const failed = input.results.filter((r) => !r.passed);
  const passed = input.results.filter((r) => r.passed);
  return [
    system(
      "You are the GEMS editor. An image-editing model will change an existing image following your instruction " +
        "and keep everything else. Write one instruction that fixes every failed requirement and nothing more: " +
        "name each change plainly (what, which colour, how many, where), and do not describe what already passed. " +
        'Think it through, then give the instruction on a line of its own that starts with "EDIT:".',
    ),
    {
      role: "user",
      content: [
        {
          type: "text",
          text: sections([
            ["Request", input.request],
            [FEEDBACK_HEADING, feedbackText(input.feedback)],
            [`Image to edit (attempt ${input.n})`, "The image follows."],
          ]),
        },
        { type: "image", png: input.png },
        ...referenceParts(input.references),
        {
          type: "text",
          text: sections([
            ["Keep (passed)", resultText(passed) || "(nothing passed yet)"],
            ["Fix (failed)", resultText(failed)],
          ]),
        },
      ],
    },
  ];
}
