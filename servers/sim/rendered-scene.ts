/**
 * What the sim generator actually drew, as embedded in its PNGs, and how the sim verifier checks
 * an atom against it. Relations are judged from the drawn boxes, not from what was asked.
 */
import type { Colour, Relation, Shape } from "./lexicon.ts";
import { colourOf, nounOf, numberWord, pluralOf, RELATION_TEXT, STYLES } from "./lexicon.ts";
import type { Atom } from "./scene.ts";

/** PNG text keyword holding the rendered scene as JSON. */
export const SCENE_KEY = "gems-sim-scene";

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface RenderedObject {
  id: string;
  noun: string;
  shape: Shape;
  colour: Colour;
  count: number;
  boxes: Box[];
}

export interface RenderedText {
  text: string;
  /** The object carrying the text, or null for a free-standing plaque. */
  on: string | null;
  box: Box;
}

export interface RenderedScene {
  generator: "gems-sim";
  /** Always true: the image is a simulation, not a model's output. */
  simulated: true;
  seed: number;
  width: number;
  height: number;
  objects: RenderedObject[];
  texts: RenderedText[];
  styles: string[];
}

export interface Check {
  holds: boolean;
  reason: string;
}

export function parseRenderedScene(json: string): RenderedScene | null {
  try {
    const value = JSON.parse(json) as Partial<RenderedScene>;
    const isScene = value.generator === "gems-sim" && Array.isArray(value.objects) && Array.isArray(value.texts);
    return isScene ? (value as RenderedScene) : null;
  } catch {
    // A chunk under our key that is not our JSON is treated like an image without one.
    return null;
  }
}

const describeCount = (noun: string, count: number) =>
  count === 0 ? `there is no ${noun}` : count === 1 ? `there is one ${noun}` : `there are ${numberWord(count)} ${pluralOf(noun)}`;

function bounds(object: RenderedObject): { left: number; right: number; top: number; bottom: number } {
  return {
    left: Math.min(...object.boxes.map((b) => b.x)),
    right: Math.max(...object.boxes.map((b) => b.x + b.w)),
    top: Math.min(...object.boxes.map((b) => b.y)),
    bottom: Math.max(...object.boxes.map((b) => b.y + b.h)),
  };
}

/** Whether the drawn scene satisfies the atom, with a short reason in plain words. */
export function checkAtom(scene: RenderedScene, atom: Atom): Check {
  const find = (id: string) => scene.objects.find((o) => o.noun === id && o.count > 0);
  switch (atom.kind) {
    case "count": {
      const drawn = find(atom.object)?.count ?? 0;
      const holds = atom.count === null ? drawn > 0 : drawn === atom.count;
      return { holds, reason: describeCount(atom.object, drawn) };
    }
    case "colour": {
      const object = find(atom.object);
      if (!object) return { holds: false, reason: `there is no ${atom.object} in the image` };
      const noun = object.count > 1 ? pluralOf(object.noun) : object.noun;
      return { holds: object.colour === atom.colour, reason: `the ${noun} ${object.count > 1 ? "are" : "is"} ${object.colour}` };
    }
    case "relation": {
      const subject = find(atom.subject);
      const object = find(atom.object);
      if (!subject || !object) return { holds: false, reason: `there is no ${subject ? atom.object : atom.subject} in the image` };
      return checkRelation(subject, atom.relation, object);
    }
    case "text": {
      const wanted = normaliseText(atom.text);
      if (scene.texts.some((t) => normaliseText(t.text) === wanted)) return { holds: true, reason: `the image shows "${atom.text}"` };
      const seen = scene.texts.map((t) => `"${t.text}"`).join(", ");
      return { holds: false, reason: seen ? `the text reads ${seen}` : "there is no text in the image" };
    }
    case "style":
      return scene.styles.includes(atom.style)
        ? { holds: true, reason: `the image is in a ${atom.style} style` }
        : { holds: false, reason: `the image is not in a ${atom.style} style` };
  }
}

const normaliseText = (text: string) => text.trim().replace(/\s+/g, " ").toLowerCase();

function checkRelation(subject: RenderedObject, relation: Relation, object: RenderedObject): Check {
  const s = bounds(subject);
  const o = bounds(object);
  const holds: Record<Relation, boolean> = {
    "left of": s.right <= o.left,
    "right of": s.left >= o.right,
    above: s.bottom <= o.top,
    below: s.top >= o.bottom,
    // Beside means on the same level with less than half an object's width of space between.
    "next to":
      s.top < o.bottom &&
      o.top < s.bottom &&
      Math.max(o.left - s.right, s.left - o.right) <= Math.max(s.right - s.left, o.right - o.left) / 2,
  };
  const name = (o: RenderedObject) => `the ${o.count > 1 ? pluralOf(o.noun) : o.noun}`;
  const verb = subject.count > 1 ? "are" : "is";
  if (relation === "next to") {
    const where = holds["next to"] ? "next to" : "not next to";
    return { holds: holds["next to"], reason: `${name(subject)} ${verb} ${where} ${name(object)}` };
  }
  const place = (["left of", "right of", "above", "below"] as const).find((r) => holds[r]);
  const where = place ? RELATION_TEXT[place] : "overlapping";
  return { holds: holds[relation], reason: `${name(subject)} ${verb} ${where} ${name(object)}` };
}

/**
 * A last resort for questions the sim cannot parse: every lexicon word the question names must
 * appear in the scene. The caller reports the answer as unsure.
 */
export function checkByKeywords(scene: RenderedScene, question: string): Check {
  const words = question.toLowerCase().match(/[a-z]+/g) ?? [];
  const missing: string[] = [];
  let named = 0;
  for (const word of words) {
    const noun = nounOf(word);
    const colour = colourOf(word);
    const style = STYLES[word];
    if (noun) {
      named++;
      if (!scene.objects.some((o) => o.noun === noun.noun && o.count > 0)) missing.push(word);
    } else if (colour) {
      named++;
      if (!scene.objects.some((o) => o.colour === colour && o.count > 0)) missing.push(word);
    } else if (style) {
      named++;
      if (!scene.styles.includes(style)) missing.push(word);
    }
  }
  if (named === 0) return { holds: false, reason: "nothing in the question matches what the image shows" };
  return missing.length === 0
    ? { holds: true, reason: "everything the question names appears in the image" }
    : { holds: false, reason: `the image has no ${missing.join(" or ")}` };
}
