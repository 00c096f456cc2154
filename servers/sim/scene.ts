/**
 * The sim's reading of a prompt: which objects (count, colour, shape), how they relate, what text
 * they show. Every checkable claim is an "atom"; the generator ranks atoms by where and how often
 * they are mentioned, and the MLLM turns atoms into yes/no questions and back.
 */
import {
  type Colour,
  type Relation,
  type Shape,
  colourOf,
  countOf,
  NOUN_SHAPES,
  nounOf,
  RELATION_PHRASES,
  STYLES,
  TEXT_CARRIERS,
} from "./lexicon.ts";

export interface SceneObject {
  /** The singular noun; the sim keeps one object per noun. */
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

export interface SceneSpec {
  objects: SceneObject[];
  relations: SceneRelation[];
  texts: string[];
  styles: string[];
}

export type Atom =
  | { kind: "count"; object: string; count: number | null }
  | { kind: "colour"; object: string; colour: Colour }
  | { kind: "relation"; subject: string; relation: Relation; object: string }
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
      return `${atom.kind}:${atom.object}`;
    case "relation": {
      const { subject, relation, object } = atom;
      if (relation === "left of") return `relation:${subject}|left|${object}`;
      if (relation === "right of") return `relation:${object}|left|${subject}`;
      if (relation === "above") return `relation:${subject}|above|${object}`;
      if (relation === "below") return `relation:${object}|above|${subject}`;
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

function relationAt(tokens: Token[], index: number): { relation: Relation; length: number } | null {
  for (const [words, relation] of RELATION_PHRASES) {
    const fits = words.every((word, offset) => {
      const token = tokens[index + offset];
      return token?.kind === "word" && token.text === word;
    });
    if (fits) return { relation, length: words.length };
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

class PromptReader {
  private readonly objects = new Map<string, SceneObject & { plural: boolean; firstPos: number; nounMentions: number }>();
  private readonly relations: SceneRelation[] = [];
  private readonly texts: string[] = [];
  private readonly styles: string[] = [];
  private readonly notes = new Map<string, AtomMention>();
  private pendingCount: Pending | null = null;
  private pendingColour: { value: Colour; pos: number } | null = null;
  private pendingRelation: { relation: Relation; pos: number; subject: string } | null = null;
  private lastNoun: { id: string; pos: number; hardSepSince: boolean } | null = null;

  constructor(private readonly tokens: Token[]) {}

  read(): PromptAnalysis {
    for (let i = 0; i < this.tokens.length; i++) i = this.step(i);
    return this.finish();
  }

  /** Handles the token at `i`; returns the index of the last token it consumed. */
  private step(i: number): number {
    const token = this.tokens[i]!;
    if (token.kind === "quote") {
      this.addText(token.text, i);
      return i;
    }
    if (token.kind === "sep") {
      this.pendingCount = null;
      this.pendingColour = null;
      if (token.hard) {
        // A relation does not reach across a full stop or comma: "a cat on the left of, a dog" is not a claim.
        this.pendingRelation = null;
        if (this.lastNoun) this.lastNoun.hardSepSince = true;
      }
      return i;
    }
    const relation = relationAt(this.tokens, i);
    if (relation) {
      if (this.lastNoun) this.pendingRelation = { relation: relation.relation, pos: i, subject: this.lastNoun.id };
      this.pendingCount = null;
      this.pendingColour = null;
      return i + relation.length - 1;
    }
    if (SAYING_WORDS.has(token.text)) return this.readUnquotedText(i);
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
      return i;
    }
    if (DEFINITE_WORDS.has(token.text)) {
      this.pendingCount = null;
      return i;
    }
    const noun = nounOf(token.text);
    if (noun) this.addNoun(noun.noun, noun.plural, i);
    return i;
  }

  /** A colour before its noun waits for it; one after ("the sphere is green") joins the last noun. */
  private readColour(colour: Colour, i: number): void {
    for (let j = i + 1; j <= i + 3; j++) {
      const next = this.tokens[j];
      if (!next || next.kind !== "word" || relationAt(this.tokens, j)) break;
      if (nounOf(next.text)) {
        this.pendingColour = { value: colour, pos: i };
        return;
      }
    }
    const last = this.lastNoun;
    const previous = this.tokens[i - 1];
    const follows = previous?.kind === "word" && (LINKING_WORDS.has(previous.text) || nounOf(previous.text) !== null);
    if (last && !last.hardSepSince && i - last.pos <= 4 && follows) {
      this.setColour(this.objects.get(last.id)!, colour, i);
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

  private addNoun(noun: string, plural: boolean, pos: number): void {
    let object = this.objects.get(noun);
    if (!object) {
      object = { id: noun, noun, shape: NOUN_SHAPES[noun]!, count: null, colour: null, text: null, plural, firstPos: pos, nounMentions: 0 };
      this.objects.set(noun, object);
    }
    object.nounMentions++;
    if (this.pendingCount) {
      const { value, pos: countPos } = this.pendingCount;
      if (object.count === null) object.count = value;
      if (object.count === value) this.note({ kind: "count", object: noun, count: value }, countPos, true);
    }
    if (this.pendingColour) this.setColour(object, this.pendingColour.value, this.pendingColour.pos);
    const relation = this.pendingRelation;
    if (relation && relation.subject !== noun) {
      const atom = { kind: "relation", subject: relation.subject, relation: relation.relation, object: noun } as const;
      if (!this.notes.has(atomKey(atom))) this.relations.push({ subject: atom.subject, relation: atom.relation, object: noun });
      this.note(atom, relation.pos, true);
    }
    this.pendingRelation = null;
    this.pendingCount = null;
    this.pendingColour = null;
    this.lastNoun = { id: noun, pos, hardSepSince: false };
  }

  private setColour(object: SceneObject, colour: Colour, pos: number): void {
    if (object.colour === null) object.colour = colour;
    if (object.colour === colour) this.note({ kind: "colour", object: object.id, colour }, pos, true);
  }

  private addText(text: string, pos: number): void {
    const last = this.lastNoun;
    const carrier = last && !last.hardSepSince && TEXT_CARRIERS.has(last.id) ? this.objects.get(last.id)! : null;
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
    // Nothing can be checked about the colour or position of an object that must be absent.
    const absent = new Set([...this.objects.values()].filter((o) => o.count === 0).map((o) => o.id));
    const involvesAbsent = (atom: Atom) =>
      (atom.kind === "colour" && absent.has(atom.object)) ||
      (atom.kind === "relation" && (absent.has(atom.subject) || absent.has(atom.object)));
    const atoms = [...this.notes.values()].filter((note) => !involvesAbsent(note.atom)).sort((a, b) => a.first - b.first);
    const objects = [...this.objects.values()].map(({ id, noun, shape, count, colour, text }) => {
      return { id, noun, shape, count, colour, text };
    });
    const relations = this.relations.filter((r) => !absent.has(r.subject) && !absent.has(r.object));
    return { spec: { objects, relations, texts: this.texts, styles: this.styles }, atoms };
  }
}
