/**
 * What the sim generator actually drew, as embedded in its PNGs, and how the sim verifier checks
 * an atom against it. Relations are judged from the drawn boxes, not from what was asked.
 */
import type { Colour, Position, Relation, Shape } from "./lexicon.ts";
import { colourOf, nounOf, numberWord, pluralOf, POSITION_TEXT, RELATION_TEXT, STYLES } from "./lexicon.ts";
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
  /** Paint order: a higher layer was drawn later, over what it overlaps (for "behind"). */
  layer: number;
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

interface Bounds {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** What the question's object id names among the drawn objects: one group, or several of a noun taken together. */
interface Drawn {
  name: string;
  count: number;
  colours: Colour[];
  boxes: Box[];
  layer: number;
}

/** The drawn objects an id names: "cube" is every cube, "red cube" only the red ones. */
function drawnOf(scene: RenderedScene, id: string): Drawn {
  const words = id.split(" ");
  const colour = words.length > 1 ? colourOf(words[0]!) : null;
  const noun = colour ? words.slice(1).join(" ") : id;
  const matches = scene.objects.filter((o) => o.count > 0 && o.noun === noun && (colour === null || o.colour === colour));
  return {
    name: id,
    count: matches.reduce((sum, o) => sum + o.count, 0),
    colours: [...new Set(matches.map((o) => o.colour))],
    boxes: matches.flatMap((o) => o.boxes),
    layer: Math.min(...matches.map((o) => o.layer ?? 0)),
  };
}

function bounds(boxes: readonly Box[]): Bounds {
  return {
    left: Math.min(...boxes.map((b) => b.x)),
    right: Math.max(...boxes.map((b) => b.x + b.w)),
    top: Math.min(...boxes.map((b) => b.y)),
    bottom: Math.max(...boxes.map((b) => b.y + b.h)),
  };
}

const nameOf = (drawn: Drawn) => `the ${drawn.count > 1 ? pluralOf(drawn.name) : drawn.name}`;
const verbOf = (drawn: Drawn) => (drawn.count > 1 ? "are" : "is");

/** Whether the drawn scene satisfies the atom, with a short reason in plain words. */
export function checkAtom(scene: RenderedScene, atom: Atom): Check {
  switch (atom.kind) {
    case "count": {
      const drawn = drawnOf(scene, atom.object).count;
      const holds = atom.count === null ? drawn > 0 : drawn === atom.count;
      return { holds, reason: describeCount(atom.object, drawn) };
    }
    case "colour": {
      const object = drawnOf(scene, atom.object);
      if (object.count === 0) return { holds: false, reason: `there is no ${atom.object} in the image` };
      const holds = object.colours.length === 1 && object.colours[0] === atom.colour;
      return { holds, reason: `${nameOf(object)} ${verbOf(object)} ${object.colours.join(" and ")}` };
    }
    case "position": {
      const object = drawnOf(scene, atom.object);
      if (object.count === 0) return { holds: false, reason: `there is no ${atom.object} in the image` };
      return checkPosition(scene, object, atom.position);
    }
    case "relation": {
      const subject = drawnOf(scene, atom.subject);
      const object = drawnOf(scene, atom.object);
      if (subject.count === 0 || object.count === 0) {
        return { holds: false, reason: `there is no ${subject.count === 0 ? atom.subject : atom.object} in the image` };
      }
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

/** Left and right mean the outer 40% of the width, top and bottom the outer 45% of the height. */
function checkPosition(scene: RenderedScene, object: Drawn, position: Position): Check {
  const b = bounds(object.boxes);
  const x = (b.left + b.right) / 2 / scene.width;
  const y = (b.top + b.bottom) / 2 / scene.height;
  const places: Record<Position, boolean> = { left: x < 0.4, right: x > 0.6, top: y < 0.45, bottom: y > 0.55 };
  const horizontal = places.left ? "on the left side" : places.right ? "on the right side" : "in the middle";
  const vertical = places.top ? "at the top" : places.bottom ? "at the bottom" : "halfway up";
  const where = position === "left" || position === "right" ? horizontal : vertical;
  return { holds: places[position], reason: `${nameOf(object)} ${verbOf(object)} ${places[position] ? POSITION_TEXT[position] : where} of the image` };
}

function checkRelation(subject: Drawn, relation: Relation, object: Drawn): Check {
  const s = bounds(subject.boxes);
  const o = bounds(object.boxes);
  const overlapsAcross = s.left < o.right && o.left < s.right;
  const overlapsDown = s.top < o.bottom && o.top < s.bottom;
  const overlaps = overlapsAcross && overlapsDown;
  const objectHeight = Math.min(...object.boxes.map((box) => box.h));
  const holds: Record<Relation, boolean> = {
    "left of": s.right <= o.left,
    "right of": s.left >= o.right,
    above: s.bottom <= o.top,
    below: s.top >= o.bottom,
    // Beside means on the same level with less than three quarters of an object's width between
    // (neighbouring cells of the sim's grid; a group drawn "apart" has a whole empty cell between).
    "next to":
      overlapsDown && Math.max(o.left - s.right, s.left - o.right) <= Math.max(s.right - s.left, o.right - o.left) * 0.75,
    // Resting on: above it, over it, and touching (a small gap is allowed for the outline).
    on: overlapsAcross && s.top < o.top && s.bottom >= o.top - objectHeight * 0.1 && s.bottom <= o.top + objectHeight * 0.35,
    // Behind: the two overlap and the subject was painted first, so the object covers part of it.
    behind: overlaps && subject.layer < object.layer,
    "in front of": overlaps && subject.layer > object.layer,
  };
  const says = (where: string) => `${nameOf(subject)} ${verbOf(subject)} ${where} ${nameOf(object)}`;
  if (holds[relation]) return { holds: true, reason: says(RELATION_TEXT[relation]) };
  if (relation === "next to") return { holds: false, reason: says("not next to") };
  if (relation === "on" && holds.above && overlapsAcross) return { holds: false, reason: says("above but not touching") };
  if ((relation === "behind" || relation === "in front of") && !overlaps) {
    const place = (["left of", "right of", "above", "below"] as const).find((r) => holds[r]);
    return { holds: false, reason: says(`${place ? RELATION_TEXT[place] : "near"}, not overlapping`) };
  }
  const place = (["behind", "in front of", "on", "left of", "right of", "above", "below"] as const).find((r) => holds[r]);
  return { holds: false, reason: says(place ? RELATION_TEXT[place] : "overlapping") };
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
    const noun = nounOf(word) ?? (scene.objects.some((o) => o.noun === word) ? { noun: word } : null);
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
