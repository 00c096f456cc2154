/**
 * Atoms ↔ yes/no questions. The decomposer writes questions with `questionFor`; the verifier,
 * feedback editor and refiner read them back with `parseQuestion`. The reader also accepts a few
 * common rewordings so checklists written by a real model still mostly parse.
 */
import {
  colourOf,
  COLOURS,
  countOf,
  nounOf,
  numberWord,
  type Position,
  pluralOf,
  POSITION_TEXT,
  RELATION_PHRASES,
  RELATION_TEXT,
  singularOf,
  STYLES,
} from "./lexicon.ts";
import { META_NOUNS, STOP_WORDS } from "./words.ts";
import type { Atom, SceneSpec } from "./scene.ts";

/** How many of an object the question is about, so it can say "the cube" or "the cubes". */
export type CountLookup = (object: string) => number | null | undefined;

export const countsOfSpec =
  (spec: SceneSpec): CountLookup =>
  (object) =>
    spec.objects.find((o) => o.id === object)?.count;

const isPlural = (count: number | null | undefined) => count === null || (count !== undefined && count > 1);
const nounPhrase = (object: string, count: number | null | undefined) => (isPlural(count) ? pluralOf(object) : object);

export function questionFor(atom: Atom, countOfObject: CountLookup): string {
  switch (atom.kind) {
    case "count":
      if (atom.count === 0) return `Is there no ${atom.object} in the image?`;
      if (atom.count === null) return `Are there any ${pluralOf(atom.object)}?`;
      if (atom.count === 1) return `Is there exactly one ${atom.object}?`;
      return `Are there exactly ${numberWord(atom.count)} ${pluralOf(atom.object)}?`;
    case "colour": {
      const count = countOfObject(atom.object);
      return `${isPlural(count) ? "Are" : "Is"} the ${nounPhrase(atom.object, count)} ${atom.colour}?`;
    }
    case "relation": {
      const subjectCount = countOfObject(atom.subject);
      const subject = nounPhrase(atom.subject, subjectCount);
      const object = nounPhrase(atom.object, countOfObject(atom.object));
      return `${isPlural(subjectCount) ? "Are" : "Is"} the ${subject} ${RELATION_TEXT[atom.relation]} the ${object}?`;
    }
    case "position": {
      const count = countOfObject(atom.object);
      return `${isPlural(count) ? "Are" : "Is"} the ${nounPhrase(atom.object, count)} ${POSITION_TEXT[atom.position]} of the image?`;
    }
    case "text":
      return `Does the image show the text "${atom.text}"?`;
    case "style":
      return `Is the image in a ${atom.style} style?`;
  }
}

const COLOUR_WORDS = [...COLOURS, "grey", "violet"].join("|");
const RELATION_WORDS = [...RELATION_PHRASES].map(([words]) => words.join(" ")).join("|");
/** An object as questions name it: a noun, maybe after the colour that tells it apart. */
const OBJECT = `((?:(?:${COLOUR_WORDS}) )?[a-z]+)`;
const COLOUR_QUESTION = new RegExp(
  `^(?:is|are) (?:all )?(?:of )?the ([a-z]+) (?:all |coloured |colored |painted )?(${COLOUR_WORDS})(?: in colou?r)?$`,
);
const RELATION_QUESTION = new RegExp(
  `^(?:is|are) (?:all )?the ${OBJECT} (?:placed |located |positioned |sitting |standing )?(${RELATION_WORDS}) (?:the |a |an )?${OBJECT}$`,
);
const POSITION_QUESTION = new RegExp(
  `^(?:is|are) (?:all )?the ${OBJECT} (?:placed |located |positioned )?(?:on|to|at|in) the (left|right|top|bottom)(?: side)?(?: of the (?:image|picture|scene|frame))?$`,
);
const COUNT_QUESTION = new RegExp(`^(?:is|are) there (?:exactly |precisely |only )?(\\w+) ${OBJECT}$`);

/** The object id a question names ("red cubes" → "red cube"), or null for a word that is no object. */
export function objectOfPhrase(phrase: string): string | null {
  const words = phrase.split(" ");
  const name = words.at(-1)!;
  if (STOP_WORDS.has(name) || META_NOUNS.has(name) || colourOf(name)) return null;
  const noun = nounOf(name)?.noun ?? singularOf(name).noun;
  const colour = words.length > 1 ? colourOf(words[0]!) : null;
  return colour ? `${colour} ${noun}` : noun;
}

/** The atom a question asks about, or null when the question is outside what the sim understands. */
export function parseQuestion(question: string): Atom | null {
  const quoted = /"([^"]+)"|“([^”]+)”/.exec(question);
  if (quoted) return { kind: "text", text: (quoted[1] ?? quoted[2])!.trim() };

  const text = question
    .toLowerCase()
    .replace(/[?.!]+\s*$/, "")
    .replace(/\s+(?:in|on) (?:the|this) (?:image|picture|scene)$/, "")
    .replace(/\s+/g, " ")
    .trim();

  const style = /\bin an? ([a-z ]+?) style\b/.exec(text);
  if (style) {
    const canonical = STYLES[style[1]!.split(" ")[0]!];
    return canonical ? { kind: "style", style: canonical } : null;
  }

  const count = COUNT_QUESTION.exec(text);
  if (count) {
    const object = objectOfPhrase(count[2]!);
    const isVague = count[1] === "any" || count[1] === "some";
    const value = isVague ? null : countOf(count[1]!);
    if (!object || (value === null && !isVague)) return null;
    return { kind: "count", object, count: value };
  }

  const colour = COLOUR_QUESTION.exec(text);
  if (colour) {
    const object = objectOfPhrase(colour[1]!);
    const value = colourOf(colour[2]!);
    return object && value ? { kind: "colour", object, colour: value } : null;
  }

  const position = POSITION_QUESTION.exec(text);
  if (position) {
    const object = objectOfPhrase(position[1]!);
    return object ? { kind: "position", object, position: position[2] as Position } : null;
  }

  const relation = RELATION_QUESTION.exec(text);
  if (relation) {
    const subject = objectOfPhrase(relation[1]!);
    const object = objectOfPhrase(relation[3]!);
    const phrase = RELATION_PHRASES.find(([words]) => words.join(" ") === relation[2]);
    if (!subject || !object || !phrase) return null;
    return { kind: "relation", subject, relation: phrase[1], object };
  }
  return null;
}
