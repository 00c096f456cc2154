/**
 * The sim generator's limited attention. Each requirement atom gets a salience score from how
 * early it is first named and how often it is repeated; the top of the ranking is drawn right,
 * the rest only by luck that shrinks with their rank. This is what lets a refined prompt, which
 * moves failed atoms forward and repeats them, genuinely fix an image.
 */
import { COLOURS, type Colour, type Position, type Relation } from "./lexicon.ts";
import type { Random } from "./random.ts";
import { pick } from "./random.ts";
import type { AtomMention } from "./scene.ts";

/** How many atoms a prompt's first few claims can hold before the generator starts dropping them. */
export const DEFAULT_CAPACITY = 3;
/** A repeated atom climbs about this many places in the ranking per extra mention (with diminishing returns). */
const REPEAT_BONUS = 2;
/** Chance of drawing the first atom past the capacity right, and how fast it falls per place. */
const TAIL_START = 0.7;
const TAIL_DECAY = 0.55;

export interface AtomOutcome {
  mention: AtomMention;
  rank: number;
  score: number;
  /** Probability that the atom is drawn as asked. */
  chance: number;
  rendered: boolean;
}

/** Score from prominence: positive scores are inside the capacity and always drawn right. */
export function salienceScore(rank: number, mentions: number, capacity: number): number {
  let bonus = 0;
  for (let extra = 1; extra < mentions; extra++) bonus += REPEAT_BONUS / extra;
  return capacity - rank + bonus;
}

export function chanceOf(score: number): number {
  return score > 0 ? 1 : TAIL_START * TAIL_DECAY ** -score;
}

/**
 * Decides, for each atom in order of first mention, whether it is drawn as asked. Styles are
 * ranked like everything else: a style named last in a long prompt may be lost, as with real models.
 */
export function decideOutcomes(atoms: readonly AtomMention[], capacity: number, random: Random): AtomOutcome[] {
  const scored = atoms.map((mention, index) => ({ mention, score: salienceScore(index, mention.mentions, capacity) }));
  // Repetition can lift an atom above ones named before it, so sort by score, earlier first on ties.
  scored.sort((a, b) => b.score - a.score || a.mention.first - b.mention.first);
  return scored.map(({ mention, score }, rank) => {
    const chance = chanceOf(score);
    const draw = random(); // always drawn, so one atom's luck does not depend on another's
    return { mention, rank, score, chance, rendered: draw < chance };
  });
}

export type DrawnRelation = Relation | "apart";

const FLIPPED: Record<Relation, DrawnRelation> = {
  "left of": "right of",
  "right of": "left of",
  above: "below",
  below: "above",
  "next to": "apart",
  on: "apart",
  behind: "in front of",
  "in front of": "behind",
};

export const flipRelation = (relation: Relation): DrawnRelation => FLIPPED[relation];

const OPPOSITE: Record<Position, Position> = { left: "right", right: "left", top: "bottom", bottom: "top" };

export const flipPosition = (position: Position): Position => OPPOSITE[position];

/** A wrong count: sometimes the object is left out, otherwise one too many or too few. */
export function wrongCount(count: number | null, random: Random): number {
  if (count === null) return 0;
  if (count === 0) return 1;
  const roll = random();
  if (roll < 0.3) return 0;
  if (count === 1 || roll < 0.65) return count + 1;
  return count - 1;
}

export function wrongColour(colour: Colour, random: Random): Colour {
  return pick(
    random,
    COLOURS.filter((c) => c !== colour),
  );
}

/** A misspelling that differs even when case is ignored: two letters swapped, or one replaced. */
export function misspell(text: string, random: Random): string {
  const chars = [...text];
  const isAlnum = (c: string | undefined) => c !== undefined && /[a-z0-9]/i.test(c);
  const swaps = [...chars.keys()].filter((i) => isAlnum(chars[i]) && isAlnum(chars[i + 1]) && chars[i]!.toLowerCase() !== chars[i + 1]!.toLowerCase());
  if (swaps.length > 0) {
    const i = pick(random, swaps);
    [chars[i], chars[i + 1]] = [chars[i + 1]!, chars[i]!];
    return chars.join("");
  }
  const letters = [...chars.keys()].filter((i) => isAlnum(chars[i]));
  if (letters.length === 0) return `${text}X`;
  const i = pick(random, letters);
  const current = chars[i]!;
  const pool = /\d/.test(current) ? "0123456789" : "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const replacement = pick(random, [...pool].filter((c) => c.toLowerCase() !== current.toLowerCase()));
  chars[i] = current === current.toLowerCase() ? replacement.toLowerCase() : replacement;
  return chars.join("");
}
