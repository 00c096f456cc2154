/**
 * The sim MLLM's text-only roles: planner, rewriter, decomposer and feedback editor.
 */
import type { ChecklistLine } from "../../core/agent/prompts.ts";
import { questionsForFeedback } from "./feedback.ts";
import { countsOfSpec, questionFor } from "./questions.ts";
import { analysePrompt } from "./scene.ts";
import { editInstructionFor } from "./refine-prompt.ts";

type Need = "text" | "layout" | "aesthetic" | "creative";

/** What a request needs, most specific first: text is hardest for generators, so it wins ties. */
const NEEDS: ReadonlyArray<{ need: Need; inRequest: RegExp; inSkill: RegExp; label: string }> = [
  {
    need: "text",
    inRequest: /["“]|\b(?:text|says|saying|lettering|typography|title|logo|caption)\b/i,
    inSkill: /\b(?:text|typography|lettering|letters|words|signage|fonts?)\b/i,
    label: "it asks for written text",
  },
  {
    need: "layout",
    inRequest: /\b(?:left|right|above|below|under|beneath|next to|beside|behind|in front of|between|on top of)\b/i,
    inSkill: /\b(?:spatial|layout|positions?|placement|arrangement|relations?|left|right)\b/i,
    label: "it places objects relative to each other",
  },
  {
    need: "aesthetic",
    inRequest: /\b(?:beautiful|aesthetic|cinematic|stunning|gorgeous|elegant|artistic|breathtaking)\b/i,
    inSkill: /\b(?:aesthetics?|aesthetic|beauty|beautiful|cinematic|lighting|visual quality)\b/i,
    label: "it asks for a beautiful image",
  },
  {
    need: "creative",
    inRequest: /\b(?:imaginative|surreal|creative|whimsical|fantasy|dreamlike|inventive|unusual)\b/i,
    inSkill: /\b(?:creative|creativity|imaginative|surreal|inventive|fantasy)\b/i,
    label: "it asks for something imaginative",
  },
];

/** Picks one skill whose description matches the request's strongest need, or none. */
export function plannerReply(request: string, skillsText: string): string {
  const skills = skillsText
    .split("\n")
    .map((line) => /^-\s*([^:\s]+):\s*(.*)$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ id: m[1]!, whenToUse: positivePart(m[2]!) }));
  for (const { inRequest, inSkill, label } of NEEDS) {
    if (!inRequest.test(request)) continue;
    const skill = skills.find((s) => inSkill.test(s.whenToUse));
    if (skill) return JSON.stringify({ skill: skill.id, why: `The request matches ${skill.id} because ${label}.` });
  }
  return JSON.stringify({ skill: null, why: "No skill description clearly matches this request." });
}

/** The part of a description before it says when not to use the skill. */
const positivePart = (description: string) => description.split(/\b(?:not|don't|do not|never|avoid|instead|skip)\b/i)[0] ?? description;

/**
 * Clauses hold no object, colour, number, relation, style word or determiner (which would open a
 * noun phrase), so they never add a requirement.
 */
const CLAUSES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(?:text|typograph|letter|font|spell)/gi, "with crisp, legible lettering"],
  [/\b(?:spatial|layout|position|placement|arrangement|left|right|count)/gi, "arranged clearly and uncluttered"],
  [/\b(?:light|cinematic|aesthetic|beaut|polish|composition)/gi, "with soft, even lighting"],
  [/\b(?:creativ|imaginat|surreal|fantasy|invent|metaphor)/gi, "imaginative and dreamlike in mood"],
];

/**
 * The request unchanged in order and content, plus the clause the skill's instructions stress
 * most. A skill that cares about the medium also names the request's style first, where the
 * generator is most likely to honour it; that is how a skill can change the sim's results.
 */
export function rewriterReply(request: string, instructions: string): string {
  const scored = CLAUSES.map(([pattern, clause]) => ({ clause, hits: instructions.match(pattern)?.length ?? 0 }));
  const best = scored.reduce((a, b) => (b.hits > a.hits ? b : a));
  const clause = best.hits > 0 ? best.clause : "rendered cleanly";
  const styles = /\b(?:style|medium)\b/i.test(instructions) ? analysePrompt(request).spec.styles : [];
  const lead = styles.length ? `In ${styles.join(" and ")} style: ` : "";
  return `${lead}${request.trim().replace(/[\s.]+$/, "")}, ${clause}`;
}

/** `references`: how many reference images came with the request; each gets a question of its own. */
export function decomposerReply(request: string, references = 0): string {
  const { spec, atoms } = analysePrompt(request);
  const questions = atoms.map((mention) => questionFor(mention.atom, countsOfSpec(spec)));
  for (let k = 1; k <= references; k++) questions.push(`Does the image keep the objects and layout of reference image ${k}?`);
  return JSON.stringify({ questions });
}

/** The editor: the failed lines of "## Fix (failed)" as one instruction, after a line of reasoning. */
export function editorReply(request: string, fixText: string): string {
  const failed = fixText.split("\n").flatMap((line) => {
    const match = /^\[fail\]\s*\d+\.\s+(.+?)(?:\s+\([^()]*\))?$/.exec(line.trim());
    return match ? [match[1]!] : [];
  });
  if (failed.length === 0) return "Nothing failed, so there is nothing to edit.";
  return `Only ${failed.length} requirement(s) failed; the rest of the image stays as it is.\nEDIT: ${editInstructionFor(request, failed)}`;
}

export function feedbackReply(request: string, checklistText: string, feedback: string): string {
  // The feedback section reads "<author>: <comment>".
  const comment = feedback.includes(": ") ? feedback.slice(feedback.indexOf(": ") + 2) : feedback;
  const spec = analysePrompt(request).spec;
  return JSON.stringify(questionsForFeedback(comment, parseChecklist(checklistText), countsOfSpec(spec)));
}

/** "<id>. <question>" lines; anything else (such as "(empty)") is skipped. */
export function parseChecklist(text: string): ChecklistLine[] {
  return text.split("\n").flatMap((line) => {
    const match = /^\s*(\d+)\.\s+(.+)$/.exec(line);
    return match ? [{ id: Number(match[1]), question: match[2]!.trim() }] : [];
  });
}
