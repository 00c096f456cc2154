/**
 * The words the simulated models understand. Nouns listed here get their own picture; any other
 * noun of a noun phrase is drawn as a labelled box (see words.ts), so nothing the request names
 * is silently dropped. The MLLM asks and answers about the same words, so the two always agree.
 */

export const COLOURS = ["red", "blue", "green", "yellow", "orange", "purple", "pink", "black", "white", "gray", "brown"] as const;
export type Colour = (typeof COLOURS)[number];

export const COLOUR_RGB: Record<Colour, readonly [number, number, number]> = {
  red: [220, 40, 40],
  blue: [40, 80, 220],
  green: [40, 170, 70],
  yellow: [240, 210, 40],
  orange: [245, 140, 30],
  purple: [140, 60, 190],
  pink: [240, 130, 180],
  black: [25, 25, 25],
  white: [250, 250, 250],
  gray: [140, 140, 140],
  brown: [130, 80, 40],
};

const COLOUR_ALIASES: Record<string, Colour> = { grey: "gray", violet: "purple" };

export function colourOf(word: string): Colour | null {
  const lower = word.toLowerCase();
  if ((COLOURS as readonly string[]).includes(lower)) return lower as Colour;
  return COLOUR_ALIASES[lower] ?? null;
}

/** What the raster knows how to draw; every noun maps to one of these. */
export type Shape =
  | "square"
  | "circle"
  | "triangle"
  | "column"
  | "star"
  | "heart"
  | "cat"
  | "dog"
  | "tree"
  | "house"
  | "car"
  | "bird"
  | "flower"
  | "cup"
  | "book"
  | "plaque"
  /** Any noun outside the lexicon: a box with the noun written on it. */
  | "label";

export const NOUN_SHAPES: Record<string, Shape> = {
  cube: "square",
  box: "square",
  sphere: "circle",
  ball: "circle",
  cone: "triangle",
  pyramid: "triangle",
  cylinder: "column",
  star: "star",
  heart: "heart",
  cat: "cat",
  dog: "dog",
  tree: "tree",
  house: "house",
  car: "car",
  bird: "bird",
  flower: "flower",
  cup: "cup",
  book: "book",
  sign: "plaque",
  banner: "plaque",
  poster: "plaque",
};

/** The picture for a noun: its own shape when the lexicon knows it, a labelled box otherwise. */
export const shapeOf = (noun: string): Shape => NOUN_SHAPES[noun] ?? "label";

/** Nouns that can carry quoted text ("a sign that says ..."). */
export const TEXT_CARRIERS = new Set(["sign", "banner", "poster"]);

const IRREGULAR_PLURALS: Record<string, string> = {
  person: "people",
  man: "men",
  woman: "women",
  child: "children",
  mouse: "mice",
  goose: "geese",
  foot: "feet",
  tooth: "teeth",
  sheep: "sheep",
  fish: "fish",
  deer: "deer",
  leaf: "leaves",
  shelf: "shelves",
  knife: "knives",
  wolf: "wolves",
  loaf: "loaves",
};
const IRREGULAR_SINGULARS = new Map(Object.entries(IRREGULAR_PLURALS).map(([one, many]) => [many, one]));

/** The plural of the last word of a noun ("red cube" → "red cubes"). */
export function pluralOf(noun: string): string {
  const words = noun.split(" ");
  const last = words.pop()!;
  const irregular = IRREGULAR_PLURALS[last];
  const plural = irregular ?? (/[^aeiou]y$/.test(last) ? `${last.slice(0, -1)}ies` : /(x|s|z|ch|sh)$/.test(last) ? `${last}es` : `${last}s`);
  return [...words, plural].join(" ");
}

/** Best-effort singular of any English noun, for nouns outside the lexicon. */
export function singularOf(word: string): { noun: string; plural: boolean } {
  const lower = word.toLowerCase();
  const irregular = IRREGULAR_SINGULARS.get(lower);
  if (irregular) return { noun: irregular, plural: lower !== irregular };
  if (lower.length > 4 && lower.endsWith("ies")) return { noun: `${lower.slice(0, -3)}y`, plural: true };
  if (/(?:ch|sh|x|z|ss)es$/.test(lower)) return { noun: lower.slice(0, -2), plural: true };
  if (lower.length > 3 && lower.endsWith("s") && !/(?:ss|us|is|os)$/.test(lower)) return { noun: lower.slice(0, -1), plural: true };
  return { noun: lower, plural: false };
}

const SINGULAR_OF = new Map<string, string>(
  Object.keys(NOUN_SHAPES).flatMap((noun) => [
    [noun, noun],
    [pluralOf(noun), noun],
  ]),
);

/** The singular noun and whether the word was plural, or null for a word outside the lexicon. */
export function nounOf(word: string): { noun: string; plural: boolean } | null {
  const lower = word.toLowerCase();
  const noun = SINGULAR_OF.get(lower);
  return noun ? { noun, plural: noun !== lower } : null;
}

const NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

/** Count words: articles mean one; "no" and "without" mean none. */
export function countOf(word: string): number | null {
  const lower = word.toLowerCase();
  if (lower === "a" || lower === "an" || lower === "single") return 1;
  if (lower === "without" || lower === "zero") return 0;
  const index = NUMBER_WORDS.indexOf(lower);
  if (index >= 0) return index;
  if (/^\d{1,2}$/.test(lower)) {
    const value = Number(lower);
    return value <= 10 ? value : null;
  }
  return null;
}

export function numberWord(count: number): string {
  return count >= 1 && count <= 10 ? NUMBER_WORDS[count]! : String(count);
}

export type Relation = "left of" | "right of" | "above" | "below" | "next to" | "on" | "behind" | "in front of";

/** Phrases for each relation, longest first so "on the left of" wins over "left of". */
export const RELATION_PHRASES: ReadonlyArray<readonly [string[], Relation]> = [
  [["on", "the", "left", "side", "of"], "left of"],
  [["on", "the", "right", "side", "of"], "right of"],
  [["on", "the", "left", "of"], "left of"],
  [["to", "the", "left", "of"], "left of"],
  [["on", "the", "right", "of"], "right of"],
  [["to", "the", "right", "of"], "right of"],
  [["on", "top", "of"], "on"],
  [["in", "front", "of"], "in front of"],
  [["left", "of"], "left of"],
  [["right", "of"], "right of"],
  [["next", "to"], "next to"],
  [["above"], "above"],
  [["over"], "above"],
  [["atop"], "on"],
  [["upon"], "on"],
  [["behind"], "behind"],
  [["below"], "below"],
  [["under"], "below"],
  [["underneath"], "below"],
  [["beneath"], "below"],
  [["beside"], "next to"],
  // Last, so every longer phrase starting with "on" wins; "on the left" (no "of") is a position.
  [["on"], "on"],
];

/** How a relation is written in prompts and questions. */
export const RELATION_TEXT: Record<Relation, string> = {
  "left of": "to the left of",
  "right of": "to the right of",
  above: "above",
  below: "below",
  "next to": "next to",
  on: "on",
  behind: "behind",
  "in front of": "in front of",
};

/** Where in the picture an object sits, as in "a window on the left". */
export type Position = "left" | "right" | "top" | "bottom";

/** Phrases for each position, longest first; a following "of" makes them relations instead. */
export const POSITION_PHRASES: ReadonlyArray<readonly [string[], Position]> = (["on", "to", "at", "in"] as const).flatMap((lead) =>
  (["left", "right", "top", "bottom"] as const).flatMap((place): Array<readonly [string[], Position]> => [
    [[lead, "the", place, "side"], place],
    [[lead, "the", place], place],
  ]),
);

/** How a position is written in prompts and questions. */
export const POSITION_TEXT: Record<Position, string> = {
  left: "on the left side",
  right: "on the right side",
  top: "at the top",
  bottom: "at the bottom",
};

export const STYLES: Record<string, string> = {
  watercolor: "watercolor",
  watercolour: "watercolor",
  neon: "neon",
  pixel: "pixel art",
  sketch: "sketch",
  pencil: "sketch",
  cartoon: "cartoon",
  photorealistic: "photorealistic",
  photo: "photorealistic",
  photograph: "photorealistic",
  photographic: "photorealistic",
  minimalist: "minimalist",
  vintage: "vintage",
};
