/**
 * The sim's reading of a prompt: which objects (count, colour, shape), how they relate, what text
 * they show. Every checkable claim is an "atom"; the generator ranks atoms by where and how often
 * they are mentioned, and the MLLM turns atoms into yes/no questions and back.
 */
import {
  type Colour,
  type Position,
  type Relation,
  type Shape,
  colourOf,
  countOf,
  nounOf,
  POSITION_PHRASES,
  RELATION_PHRASES,
  shapeOf,
  singularOf,
  STYLES,
  TEXT_CARRIERS,
} from "./lexicon.ts";
import { isAdjective, isParticiple, META_NOUNS, STOP_WORDS } from "./words.ts";

export interface SceneObject {
  /**
   * The singular noun, or "<colour> <noun>" when the request names several objects of one noun
   * told apart by colour ("a red cube and a blue cube" → "red cube", "blue cube").
   */
  id: string;
  noun: string;
  shape: Shape;
  /** null: a plural with no number ("cubes"), meaning "some". */
  count: number | null;
  colour: Colour | null;
  /** Quoted text this object carries, for signs and the like. */
  text: string | null;
}

export interface SceneRelation {
  subject: string;
  relation: Relation;
  object: string;
}

export interface ScenePosition {
  object: string;
  position: Position;
}

export interface SceneSpec {
  objects: SceneObject[];
  relations: SceneRelation[];
  positions: ScenePosition[];
  texts: string[];
  styles: string[];
}

export type Atom =
  | { kind: "count"; object: string; count: number | null }
  | { kind: "colour"; object: string; colour: Colour }
  | { kind: "relation"; subject: string; relation: Relation; object: string }
  | { kind: "position"; object: string; position: Position }
  | { kind: "text"; text: string }
  | { kind: "style"; style: string };

export interface AtomMention {
  key: string;
  atom: Atom;
  /** Token index of the first mention; lower is more prominent. */
  first: number;
  mentions: number;
  /** False when only implied, e.g. the "one" in "the sphere". */
  explicit: boolean;
}

export interface PromptAnalysis {
  spec: SceneSpec;
  /** Every atom, in order of first mention. */
  atoms: AtomMention[];
}

/** Identifies a requirement regardless of wording: "cubes left of sphere" = "sphere right of cubes". */
export function atomKey(atom: Atom): string {
  switch (atom.kind) {
    case "count":
    case "colour":
    case "position":
      return `${atom.kind}:${atom.object}`;
    case "relation": {
      const { subject, relation, object } = atom;
      if (relation === "left of") return `relation:${subject}|left|${object}`;
      if (relation === "right of") return `relation:${object}|left|${subject}`;
      if (relation === "above") return `relation:${subject}|above|${object}`;
      if (relation === "below") return `relation:${object}|above|${subject}`;
      if (relation === "on") return `relation:${subject}|on|${object}`;
      if (relation === "behind") return `relation:${subject}|behind|${object}`;
      if (relation === "in front of") return `relation:${object}|behind|${subject}`;
      const [a, b] = [subject, object].sort();
      return `relation:${a}|next|${b}`;
    }
    case "text":
      return `text:${atom.text.toLowerCase()}`;
    case "style":
      return `style:${atom.style}`;
  }
}

type Token = { kind: "word"; text: string; raw: string } | { kind: "quote"; text: string } | { kind: "sep"; hard: boolean };

const TOKEN_PATTERN = /"([^"]*)"|“([^”]*)”|([A-Za-z0-9]+(?:['’][A-Za-z]+)?)|([,;.!?:()\n])/g;
const SOFT_SEPARATORS = new Set(["and", "with", "plus", "while", "but", "then", "also"]);
const SAYING_WORDS = new Set(["says", "say", "saying", "reads", "read", "reading", "spelling", "spells"]);
const LINKING_WORDS = new Set(["is", "are", "be", "in", "painted", "coloured", "colored", "all"]);
const DEFINITE_WORDS = new Set(["the", "these", "those", "that", "this", "its"]);
/** Determiners that open a plural phrase without a number: "some apples". */
const VAGUE_WORDS = new Set(["some", "several", "many", "few", "various"]);

/** "says", "reading" and the like introduce text only when quoted or capitalised text follows. */
function startsText(tokens: Token[], index: number): boolean {
  const token = tokens[index];
  if (token?.kind !== "word" || !SAYING_WORDS.has(token.text)) return false;
  const next = tokens[index + 1];
  return next?.kind === "quote" || (next?.kind === "word" && next.raw.length >= 2 && next.raw === next.raw.toUpperCase() && !/^\d+$/.test(next.raw));
}

/** A word that can be part of a noun phrase's name: nothing the reader gives another meaning. */
function isPlainWord(tokens: Token[], index: number): boolean {
  const token = tokens[index];
  if (token?.kind !== "word") return false;
  const word = token.text;
  if (word.length < 2 || !/^[a-z]/.test(word) || STOP_WORDS.has(word) || LINKING_WORDS.has(word) || startsText(tokens, index)) return false;
  if (DEFINITE_WORDS.has(word) || VAGUE_WORDS.has(word) || countOf(word) !== null || colourOf(word) || nounOf(word) || STYLES[word]) return false;
  return relationAt(tokens, index) === null && positionAt(tokens, index) === null;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(TOKEN_PATTERN)) {
    const quoted = match[1] ?? match[2];
    if (quoted !== undefined) {
      if (quoted.trim()) tokens.push({ kind: "quote", text: quoted.trim() });
    } else if (match[3] !== undefined) {
      const lower = match[3].toLowerCase();
      tokens.push(SOFT_SEPARATORS.has(lower) ? { kind: "sep", hard: false } : { kind: "word", text: lower, raw: match[3] });
    } else {
      tokens.push({ kind: "sep", hard: true });
    }
  }
  return tokens;
}

const isWordAt = (tokens: Token[], index: number, word: string) => {
  const token = tokens[index];
  return token?.kind === "word" && token.text === word;
};

function relationAt(tokens: Token[], index: number): { relation: Relation; length: number } | null {
  for (const [words, relation] of RELATION_PHRASES) {
    if (words.every((word, offset) => isWordAt(tokens, index + offset, word))) return { relation, length: words.length };
  }
  return null;
}

/** "on the left", "at the top": a place in the picture, unless "of" follows and makes it a relation. */
function positionAt(tokens: Token[], index: number): { position: Position; length: number } | null {
  for (const [words, position] of POSITION_PHRASES) {
    const fits = words.every((word, offset) => isWordAt(tokens, index + offset, word));
    if (fits && !isWordAt(tokens, index + words.length, "of")) return { position, length: words.length };
  }
  return null;
}

/** Parses a prompt into a scene and its atoms, recording where and how often each atom is named. */
export function analysePrompt(prompt: string): PromptAnalysis {
  return new PromptReader(tokenize(prompt)).read();
}

export function parseScene(prompt: string): SceneSpec {
  return analysePrompt(prompt).spec;
}

interface Pending {
  value: number;
  pos: number;
}

type ReadObject = SceneObject & { plural: boolean; firstPos: number; lastPos: number; position: Position | null };

class PromptReader {
  /** Keyed by an internal key (noun, then "noun#2"…); final ids are given in finish(). */
  private readonly objects = new Map<string, ReadObject>();
  private readonly relations: SceneRelation[] = [];
  private readonly texts: string[] = [];
  private readonly styles: string[] = [];
  private readonly notes = new Map<string, AtomMention>();
  private pendingCount: Pending | null = null;
  private pendingColour: { value: Colour; pos: number } | null = null;
  /** A determiner was read ("the", "some", "a"): the next ordinary words may name an object. */
  private isPhraseOpen = false;
  private pendingRelation: { relation: Relation; pos: number; subject: string } | null = null;
  private pendingPosition: { position: Position; pos: number } | null = null;
  private lastNoun: { id: string; pos: number; hardSepSince: boolean } | null = null;

  constructor(private readonly tokens: Token[]) {}

  read(): PromptAnalysis {
    for (let i = 0; i < this.tokens.length; i++) i = this.step(i);
    return this.finish();
  }

  private closePhrase(): void {
    this.pendingCount = null;
    this.pendingColour = null;
    this.isPhraseOpen = false;
  }

  /** Handles the token at `i`; returns the index of the last token it consumed. */
  private step(i: number): number {
    const token = this.tokens[i]!;
    if (token.kind === "quote") {
      this.addText(token.text, i);
      return i;
    }
    if (token.kind === "sep") {
      this.closePhrase();
      if (token.hard) {
        // A relation does not reach across a full stop or comma: "a cat on the left of, a dog" is not a claim.
        this.pendingRelation = null;
        if (this.lastNoun) this.lastNoun.hardSepSince = true;
      }
      return i;
    }
    const relation = relationAt(this.tokens, i);
    const position = positionAt(this.tokens, i);
    if (position && (!relation || position.length >= relation.length)) {
      this.readPosition(position.position, i);
      return i + position.length - 1;
    }
    if (relation) {
      if (this.lastNoun) this.pendingRelation = { relation: relation.relation, pos: i, subject: this.lastNoun.id };
      this.closePhrase();
      return i + relation.length - 1;
    }
    if (startsText(this.tokens, i)) return this.readUnquotedText(i);
    const style = STYLES[token.text];
    if (style) {
      this.note({ kind: "style", style }, i, true);
      if (!this.styles.includes(style)) this.styles.push(style);
      return i;
    }
    const colour = colourOf(token.text);
    if (colour) {
      this.readColour(colour, i);
      return i;
    }
    const count = countOf(token.text);
    if (count !== null) {
      this.pendingCount = { value: count, pos: i };
      this.isPhraseOpen = true;
      return i;
    }
    if (DEFINITE_WORDS.has(token.text) || VAGUE_WORDS.has(token.text)) {
      this.pendingCount = null;
      this.isPhraseOpen = true;
      return i;
    }
    const noun = nounOf(token.text);
    if (noun) {
      this.addNoun(noun.noun, noun.plural, i);
      return i;
    }
    if (this.isPhraseOpen || this.pendingColour) return this.readUnknownPhrase(i);
    return i;
  }

  /**
   * Ordinary words after a determiner, number or colour: the last one names an object the lexicon
   * does not know ("a cozy reading nook" → nook). A known noun or colour after them continues the
   * phrase instead ("a sleeping cat").
   */
  private readUnknownPhrase(i: number): number {
    let end = i;
    let last = -1; // index of the phrase's last word so far
    while (isPlainWord(this.tokens, end)) {
      const word = (this.tokens[end] as { text: string }).text;
      // "a man walking a dog": a participle followed by anything but a name ends the phrase before it.
      if (last >= 0 && isParticiple(word) && !isPlainWord(this.tokens, end + 1)) break;
      last = end;
      end++;
      // "the image follow…": a word for the picture itself ends the phrase, and names nothing in it.
      if (META_NOUNS.has(word)) break;
      // "a cozy, warm nook": a comma after a describing word does not end the phrase.
      const comma = this.tokens[end];
      if (comma?.kind === "sep" && comma.hard && isAdjective(word) && isPlainWord(this.tokens, end + 1)) end++;
    }
    if (last < 0) return i; // a stop word: the phrase stays open ("a very big barn")
    const next = this.tokens[last + 1];
    if (next?.kind === "word" && (nounOf(next.text) || STYLES[next.text])) return last;
    // "a big red barn" goes on to its noun; in "make the sofa blue" the colour comes after it.
    if (next?.kind === "word" && colourOf(next.text) && (nounOf(this.wordAt(last + 2)) || isPlainWord(this.tokens, last + 2))) return last;
    const head = (this.tokens[last] as { text: string }).text;
    if (META_NOUNS.has(head) || isAdjective(head)) {
      this.closePhrase();
      return last;
    }
    const { noun, plural } = singularOf(head);
    this.addNoun(noun, plural, last);
    return last;
  }

  private wordAt(index: number): string {
    const token = this.tokens[index];
    return token?.kind === "word" ? token.text : "";
  }

  /** "a window on the left" places the noun just named; "on the left, a window" the next one. */
  private readPosition(position: Position, i: number): void {
    this.closePhrase();
    const last = this.lastNoun;
    if (last && !last.hardSepSince) this.setPosition(this.objects.get(last.id)!, position, i);
    else this.pendingPosition = { position, pos: i };
  }

  /** A colour before its noun waits for it; one after ("the sphere is green") joins the last noun. */
  private readColour(colour: Colour, i: number): void {
    for (let j = i + 1; j <= i + 3; j++) {
      const next = this.tokens[j];
      if (!next || next.kind !== "word" || relationAt(this.tokens, j)) break;
      if (nounOf(next.text) || isPlainWord(this.tokens, j)) {
        this.pendingColour = { value: colour, pos: i };
        return;
      }
    }
    const last = this.lastNoun;
    const previous = this.tokens[i - 1];
    const follows = previous?.kind === "word" && (LINKING_WORDS.has(previous.text) || nounOf(previous.text) !== null || this.objects.has(previous.text));
    if (last && !last.hardSepSince && i - last.pos <= 4 && follows) {
      // Said after the noun, a colour is the final word on it: "make the blue cube green" wants green.
      const object = this.objects.get(last.id)!;
      if (object.colour !== null && object.colour !== colour) {
        this.notes.delete(`colour:${object.id}`);
        object.colour = null;
      }
      this.setColour(object, colour, i);
    }
  }

  private readUnquotedText(i: number): number {
    const words: string[] = [];
    let j = i + 1;
    for (; j < this.tokens.length; j++) {
      const token = this.tokens[j]!;
      if (token.kind === "quote") return i; // the quote token handles itself next
      if (token.kind !== "word" || token.raw.length < 2 || token.raw !== token.raw.toUpperCase()) break;
      if (/^\d+$/.test(token.raw) && words.length === 0) break;
      words.push(token.raw);
    }
    if (words.length > 0) this.addText(words.join(" "), i + 1);
    return i + words.length;
  }

  /**
   * The object a phrase names. A colour tells objects of one noun apart: "a blue cube" after "a
   * red cube" is a second cube, while "the cube" and "red cube" refer back to the first.
   */
  private objectFor(noun: string, plural: boolean, pos: number): ReadObject {
    const colour = this.pendingColour?.value ?? null;
    const same = [...this.objects.values()].filter((o) => o.noun === noun);
    const known = colour
      ? (same.find((o) => o.colour === colour) ?? same.find((o) => o.colour === null))
      : same.reduce<ReadObject | undefined>((latest, o) => (latest && latest.lastPos > o.lastPos ? latest : o), undefined);
    if (known) return known;
    const key = same.length === 0 ? noun : `${noun}#${same.length + 1}`;
    const object: ReadObject = { id: key, noun, shape: shapeOf(noun), count: null, colour: null, text: null, plural, firstPos: pos, lastPos: pos, position: null };
    this.objects.set(key, object);
    return object;
  }

  private addNoun(noun: string, plural: boolean, pos: number): void {
    const object = this.objectFor(noun, plural, pos);
    object.lastPos = pos;
    const key = object.id;
    if (this.pendingCount) {
      const { value, pos: countPos } = this.pendingCount;
      if (object.count === null) object.count = value;
      if (object.count === value) this.note({ kind: "count", object: key, count: value }, countPos, true);
    }
    if (this.pendingColour) this.setColour(object, this.pendingColour.value, this.pendingColour.pos);
    const relation = this.pendingRelation;
    if (relation && relation.subject !== key) {
      const atom = { kind: "relation", subject: relation.subject, relation: relation.relation, object: key } as const;
      if (!this.notes.has(atomKey(atom))) this.relations.push({ subject: atom.subject, relation: atom.relation, object: key });
      this.note(atom, relation.pos, true);
    }
    if (this.pendingPosition) this.setPosition(object, this.pendingPosition.position, this.pendingPosition.pos);
    this.pendingRelation = null;
    this.pendingPosition = null;
    this.closePhrase();
    this.lastNoun = { id: key, pos, hardSepSince: false };
  }

  private setColour(object: SceneObject, colour: Colour, pos: number): void {
    if (object.colour === null) object.colour = colour;
    if (object.colour === colour) this.note({ kind: "colour", object: object.id, colour }, pos, true);
  }

  private setPosition(object: ReadObject, position: Position, pos: number): void {
    if (object.position === null) object.position = position;
    if (object.position === position) this.note({ kind: "position", object: object.id, position }, pos, true);
  }

  private addText(text: string, pos: number): void {
    const last = this.lastNoun;
    const lastObject = last && !last.hardSepSince ? this.objects.get(last.id)! : null;
    const carrier = lastObject && TEXT_CARRIERS.has(lastObject.noun) ? lastObject : null;
    if (carrier && carrier.text === null) carrier.text = text;
    if (!this.texts.some((known) => known.toLowerCase() === text.toLowerCase())) this.texts.push(text);
    this.note({ kind: "text", text }, pos, true);
  }

  private note(atom: Atom, pos: number, explicit: boolean): void {
    const key = atomKey(atom);
    const known = this.notes.get(key);
    if (known) {
      known.mentions++;
      known.explicit ||= explicit;
    } else {
      this.notes.set(key, { key, atom, first: pos, mentions: 1, explicit });
    }
  }

  private finish(): PromptAnalysis {
    for (const object of this.objects.values()) {
      if (object.count === null && !object.plural) object.count = 1;
      const carriesText = object.text !== null && object.count === 1;
      if (!this.notes.has(`count:${object.id}`) && !carriesText) {
        this.note({ kind: "count", object: object.id, count: object.count }, object.firstPos, false);
      }
      if (carriesText) this.notes.delete(`count:${object.id}`);
    }
    const ids = this.finalIds();
    // An object told apart by its colour has that colour by definition; its count question asks for both.
    const split = new Set([...this.objects.values()].filter((o) => ids.get(o.id) !== o.noun).map((o) => o.id));
    const rename = (atom: Atom): Atom => {
      const id = (key: string) => ids.get(key) ?? key;
      if (atom.kind === "relation") return { ...atom, subject: id(atom.subject), object: id(atom.object) };
      if (atom.kind === "count" || atom.kind === "colour" || atom.kind === "position") return { ...atom, object: id(atom.object) };
      return atom;
    };
    // Nothing can be checked about the colour or position of an object that must be absent.
    const absent = new Set([...this.objects.values()].filter((o) => o.count === 0).map((o) => o.id));
    const involvesAbsent = (atom: Atom) =>
      ((atom.kind === "colour" || atom.kind === "position") && absent.has(atom.object)) ||
      (atom.kind === "relation" && (absent.has(atom.subject) || absent.has(atom.object)));
    const atoms = [...this.notes.values()]
      .filter((note) => !involvesAbsent(note.atom) && !(note.atom.kind === "colour" && split.has(note.atom.object)))
      .sort((a, b) => a.first - b.first)
      .map((note) => {
        const atom = rename(note.atom);
        return { ...note, atom, key: atomKey(atom) };
      });
    const objects = [...this.objects.values()].map(({ id, noun, shape, count, colour, text }) => {
      return { id: ids.get(id)!, noun, shape, count, colour, text };
    });
    const relations = this.relations
      .filter((r) => !absent.has(r.subject) && !absent.has(r.object))
      .map((r) => ({ ...r, subject: ids.get(r.subject)!, object: ids.get(r.object)! }));
    const positions = [...this.objects.values()].flatMap((o) =>
      o.position !== null && !absent.has(o.id) ? [{ object: ids.get(o.id)!, position: o.position }] : [],
    );
    return { spec: { objects, relations, positions, texts: this.texts, styles: this.styles }, atoms };
  }

  /** The noun alone when it names one object, "<colour> <noun>" when colours tell several apart. */
  private finalIds(): Map<string, string> {
    const byNoun = new Map<string, ReadObject[]>();
    for (const object of this.objects.values()) byNoun.set(object.noun, [...(byNoun.get(object.noun) ?? []), object]);
    const ids = new Map<string, string>();
    for (const [noun, objects] of byNoun) {
      for (const [index, object] of objects.entries()) {
        const isSplit = objects.length > 1;
        ids.set(object.id, !isSplit ? noun : object.colour ? `${object.colour} ${noun}` : `${noun} ${index + 1}`);
      }
    }
    return ids;
  }
}
