/**
 * The sim feedback editor: turns a person's comment ("make the sphere green", "the sign should say
 * CLOSED", "add a yellow star", "remove the cat") into new questions and the checklist questions
 * they replace. A comment about something the checklist does not cover always adds a question:
 * one per requirement the sim can read from it, or the comment itself when it can read none, so
 * "nothing new" is only ever said when an existing question asks the very same thing.
 */
import type { ChecklistLine } from "../../core/agent/prompts.ts";
import { COLOURS, colourOf, singularOf } from "./lexicon.ts";
import { type CountLookup, parseQuestion, questionFor } from "./questions.ts";
import { type Atom, analysePrompt, atomKey } from "./scene.ts";
import { PRAISE_WORDS } from "./words.ts";

export interface FeedbackQuestions {
  questions: string[];
  /** Checklist ids the comment contradicts or supersedes. */
  replaces: number[];
}

const REMOVAL = /\b(?:remove|delete|get rid of|take away|take out|drop|lose)\s+(?:all\s+)?(?:of\s+)?(?:the\s+|any\s+|that\s+)?/gi;

interface Clause {
  text: string;
  /** Only what the clause states outright, never what a phrase merely implies. */
  atoms: Atom[];
}

function clausesOf(comment: string): Clause[] {
  return comment
    .split(/[.;!?\n]+|\bbut\b/i)
    .map((text) => text.trim())
    .filter((text) => text !== "")
    .map((text) => ({ text, atoms: analysePrompt(text.replace(REMOVAL, "no ")).atoms.filter((m) => m.explicit).map((m) => m.atom) }));
}

/** New atoms a comment asks for; only what it states outright, never what a phrase merely implies. */
export function atomsOfComment(comment: string): Atom[] {
  const atoms = new Map<string, Atom>();
  for (const clause of clausesOf(comment)) for (const atom of clause.atoms) atoms.set(atomKey(atom), atom);
  return [...atoms.values()];
}

/** Thanks and praise ask for nothing; any other clause is a wish. */
const isPraise = (clause: string) => (clause.toLowerCase().match(/[a-z]+/g) ?? []).every((word) => PRAISE_WORDS.has(word));

/** The question for a wish the sim cannot break into requirements; its verifier will say it cannot confirm it. */
export const freeFormQuestion = (clause: string) => `Does the image follow this feedback: ${clause.replace(/[?.!\s]+$/, "")}?`;

const COLOUR_WORDS = [...COLOURS, "grey", "violet"].join("|");
const RECOLOUR = new RegExp(`\\b(?:the|that|this) (${COLOUR_WORDS}) ([a-z]+)\\b.*?\\b(${COLOUR_WORDS})\\b`);

/**
 * "make the blue cube green" when the checklist tells cubes apart by colour: every question about
 * the blue cube is asked again about a green cube, and the blue cube's questions are retired.
 */
function recolourSplit(clause: string, existing: ReadonlyArray<{ id: number; atom: Atom }>, countOf: CountLookup): FeedbackQuestions | null {
  const match = RECOLOUR.exec(clause.toLowerCase());
  if (!match) return null;
  const [from, to] = [colourOf(match[1]!)!, colourOf(match[3]!)!];
  if (from === to) return null;
  const noun = singularOf(match[2]!).noun;
  const [oldId, newId] = [`${from} ${noun}`, `${to} ${noun}`];
  const rename = (id: string) => (id === oldId ? newId : id);
  const involved = existing.filter(({ atom }) => involves(atom, oldId));
  if (involved.length === 0) return null;
  const renamed = (atom: Atom): Atom => {
    if (atom.kind === "relation") return { ...atom, subject: rename(atom.subject), object: rename(atom.object) };
    if (atom.kind === "count" || atom.kind === "colour" || atom.kind === "position") return { ...atom, object: rename(atom.object) };
    return atom;
  };
  const counts: CountLookup = (object) => countOf(object === newId ? oldId : object);
  return { questions: involved.map(({ atom }) => questionFor(renamed(atom), counts)), replaces: involved.map(({ id }) => id) };
}

/** Questions for a comment, and which numbered checklist questions they replace. */
export function questionsForFeedback(comment: string, checklist: readonly ChecklistLine[], requestCounts: CountLookup): FeedbackQuestions {
  const wanted = atomsOfComment(comment);
  const existing = checklist.flatMap((line) => {
    const atom = parseQuestion(line.question);
    return atom ? [{ id: line.id, atom }] : [];
  });
  const counts = new Map<string, number | null>();
  for (const { atom } of existing) if (atom.kind === "count") counts.set(atom.object, atom.count);
  for (const atom of wanted) if (atom.kind === "count") counts.set(atom.object, atom.count);
  const countOf: CountLookup = (object) => (counts.has(object) ? counts.get(object) : requestCounts(object));

  const questions: string[] = [];
  const replaces = new Set<number>();
  const handled = new Set<string>();
  for (const clause of clausesOf(comment)) {
    const recoloured = recolourSplit(clause.text, existing, countOf);
    if (recoloured) {
      questions.push(...recoloured.questions.filter((q) => !questions.includes(q)));
      for (const id of recoloured.replaces) replaces.add(id);
      for (const atom of clause.atoms) handled.add(atomKey(atom));
      continue;
    }
    if (clause.atoms.length > 0 || isPraise(clause.text)) continue;
    const question = freeFormQuestion(clause.text);
    const asked = checklist.some((line) => line.question.toLowerCase() === question.toLowerCase());
    if (!asked && !questions.includes(question)) questions.push(question);
  }
  for (const atom of wanted) {
    if (handled.has(atomKey(atom))) continue;
    const same = existing.find((e) => atomKey(e.atom) === atomKey(atom) && JSON.stringify(e.atom) === JSON.stringify(atom));
    if (same) continue; // already required; nothing to add or retire
    questions.push(questionFor(atom, countOf));
    for (const { id, atom: old } of existing) if (supersedes(atom, old)) replaces.add(id);
  }
  return { questions, replaces: [...replaces].sort((a, b) => a - b) };
}

function supersedes(next: Atom, old: Atom): boolean {
  switch (next.kind) {
    case "count":
      if (next.count === 0) return involves(old, next.object);
      return old.kind === "count" && old.object === next.object;
    case "colour":
      return old.kind === "colour" && old.object === next.object;
    case "relation":
      return old.kind === "relation" && samePair(old.subject, old.object, next.subject, next.object);
    case "position":
      return old.kind === "position" && old.object === next.object;
    case "text":
      return old.kind === "text";
    case "style":
      return old.kind === "style";
  }
}

const samePair = (a: string, b: string, c: string, d: string) => (a === c && b === d) || (a === d && b === c);

function involves(atom: Atom, object: string): boolean {
  if (atom.kind === "count" || atom.kind === "colour" || atom.kind === "position") return atom.object === object;
  if (atom.kind === "relation") return atom.subject === object || atom.object === object;
  return false;
}
