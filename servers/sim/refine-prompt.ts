/**
 * The sim refiner's strategy, the one the GEMS refiner prompt recommends: put what failed first
 * and say it again, keep what passed where it was. It writes the prompt from the checklist (so
 * human feedback that changed the checklist is followed) and copies the emphasis of the previous
 * prompt (so what passed because it was repeated keeps its repetition).
 */
import type { ChecklistLine } from "../../core/agent/prompts.ts";
import { numberWord, pluralOf, POSITION_TEXT, RELATION_TEXT } from "./lexicon.ts";
import { type CountLookup, parseQuestion } from "./questions.ts";
import { type Atom, analysePrompt, atomKey } from "./scene.ts";

export interface RefineInput {
  request: string;
  checklist: readonly ChecklistLine[];
  /** The prompt of the last attempt, or null before the first. */
  lastPrompt: string | null;
  /** Checklist ids that passed in the last attempt; every other id counts as not yet achieved. */
  passedIds: ReadonlySet<number>;
}

export interface RefinedPrompt {
  prompt: string;
  /** Checklist lines moved to the front. */
  promoted: ChecklistLine[];
  /** Checklist lines the sim could not turn into a phrase; appended verbatim. */
  unparsed: ChecklistLine[];
}

const MAX_MENTIONS = 3;

interface Slot {
  atom: Atom;
  mentions: number;
}

/** Writes the next prompt: failed atoms first and repeated, passed atoms after, as before. */
export function refinePrompt(input: RefineInput): RefinedPrompt {
  const previous = analysePrompt(input.lastPrompt ?? input.request);
  const earlier = new Map(previous.atoms.map((a) => [a.key, a]));
  const { spec: request, atoms: requestAtoms } = analysePrompt(input.request);

  const parsed = input.checklist.map((line) => ({ line, atom: parseQuestion(line.question) }));
  const unparsed = parsed.filter((p) => p.atom === null).map((p) => p.line);
  const known = parsed.filter((p): p is { line: ChecklistLine; atom: Atom } => p.atom !== null);
  const position = (atom: Atom) => earlier.get(atomKey(atom))?.first ?? Number.MAX_SAFE_INTEGER;
  const mentionsBefore = (atom: Atom) => earlier.get(atomKey(atom))?.mentions ?? 0;

  const failed = known.filter((p) => !input.passedIds.has(p.line.id));
  const passed = known.filter((p) => input.passedIds.has(p.line.id));
  const byPosition = (a: { atom: Atom }, b: { atom: Atom }) => position(a.atom) - position(b.atom);
  const slots: Slot[] = [
    ...[...failed].sort(byPosition).map(({ atom }) => ({ atom, mentions: Math.min(MAX_MENTIONS, Math.max(2, mentionsBefore(atom) + 1)) })),
    ...[...passed].sort(byPosition).map(({ atom }) => ({ atom, mentions: Math.min(MAX_MENTIONS, Math.max(1, mentionsBefore(atom))) })),
    ...uncovered(requestAtoms.map((a) => a.atom), known.map((k) => k.atom))
      .sort((a, b) => position(a) - position(b))
      .map((atom) => ({ atom, mentions: Math.min(MAX_MENTIONS, Math.max(1, mentionsBefore(atom))) })),
  ];

  const counts = new Map<string, number | null>();
  for (const { atom } of known) if (atom.kind === "count") counts.set(atom.object, atom.count);
  const countOf: CountLookup = (object) => (counts.has(object) ? counts.get(object) : request.objects.find((o) => o.id === object)?.count);
  const carrierOf = (text: string) => request.objects.find((o) => o.text?.toLowerCase() === text.toLowerCase())?.noun ?? null;

  const rounds: string[] = [];
  for (let round = 1; round <= MAX_MENTIONS; round++) {
    const phrases = phrasesFor(
      slots.filter((s) => s.mentions >= round).map((s) => s.atom),
      countOf,
      carrierOf,
    );
    if (phrases.length === 0) break;
    rounds.push((round === 1 ? "" : round === 2 ? "Again: " : "Once more: ") + phrases.join(", "));
  }
  if (unparsed.length) rounds.push(`Also: ${unparsed.map((l) => l.question.replace(/\?$/, "")).join("; ")}`);
  const prompt = rounds.join(". ").trim() || input.lastPrompt || input.request;
  return { prompt, promoted: failed.map((p) => p.line), unparsed };
}

/**
 * Request atoms the checklist does not ask about (a sparse checklist from a real decomposer) are
 * kept at the end, unless the checklist overrides them: an object now absent, another text, style
 * or relation between the same pair.
 */
function uncovered(requestAtoms: Atom[], checklistAtoms: Atom[]): Atom[] {
  const keys = new Set(checklistAtoms.map(atomKey));
  const absent = new Set(checklistAtoms.flatMap((a) => (a.kind === "count" && a.count === 0 ? [a.object] : [])));
  const has = (kind: Atom["kind"]) => checklistAtoms.some((a) => a.kind === kind);
  const pairs = new Set(checklistAtoms.flatMap((a) => (a.kind === "relation" ? [[a.subject, a.object].sort().join("|")] : [])));
  // A "blue cube" the checklist no longer names while it names other cubes was recoloured by feedback.
  const named = new Set(checklistAtoms.flatMap(objectsOf));
  const nounOfId = (id: string) => id.split(" ").at(-1)!;
  const replaced = (id: string) => id.includes(" ") && !named.has(id) && [...named].some((other) => nounOfId(other) === nounOfId(id));
  const gone = (id: string) => absent.has(id) || replaced(id);
  return requestAtoms.filter((atom) => {
    if (keys.has(atomKey(atom))) return false;
    switch (atom.kind) {
      case "count":
      case "colour":
      case "position":
        return !gone(atom.object);
      case "relation":
        return !gone(atom.subject) && !gone(atom.object) && !pairs.has([atom.subject, atom.object].sort().join("|"));
      case "text":
      case "style":
        return !has(atom.kind);
    }
  });
}

function objectsOf(atom: Atom): string[] {
  if (atom.kind === "relation") return [atom.subject, atom.object];
  if (atom.kind === "count" || atom.kind === "colour" || atom.kind === "position") return [atom.object];
  return [];
}

/** Phrases for atoms in order; a count next to a colour of the same object becomes one phrase. */
function phrasesFor(atoms: Atom[], countOf: CountLookup, carrierOf: (text: string) => string | null): string[] {
  const phrases: string[] = [];
  for (let i = 0; i < atoms.length; i++) {
    const atom = atoms[i]!;
    const next = atoms[i + 1];
    if (atom.kind === "count" && next?.kind === "colour" && next.object === atom.object) {
      phrases.push(countPhrase(atom.object, atom.count, next.colour));
      i++;
    } else if (atom.kind === "colour" && next?.kind === "count" && next.object === atom.object) {
      phrases.push(countPhrase(atom.object, next.count, atom.colour));
      i++;
    } else {
      phrases.push(phraseFor(atom, countOf, carrierOf));
    }
  }
  return phrases;
}

function countPhrase(object: string, count: number | null, colour: string | null): string {
  const adjective = colour ? `${colour} ` : "";
  if (count === 0) return `no ${pluralOf(object)}`;
  if (count === null) return `some ${adjective}${pluralOf(object)}`;
  if (count === 1) return `exactly one ${adjective}${object}`;
  return `exactly ${numberWord(count)} ${adjective}${pluralOf(object)}`;
}

function phraseFor(atom: Atom, countOf: CountLookup, carrierOf: (text: string) => string | null): string {
  const noun = (object: string) => {
    const count = countOf(object);
    return count === null || (count !== undefined && count > 1) ? pluralOf(object) : object;
  };
  switch (atom.kind) {
    case "count":
      return countPhrase(atom.object, atom.count, null);
    case "colour":
      return `${atom.colour} ${noun(atom.object)}`;
    case "relation":
      return `the ${noun(atom.subject)} ${RELATION_TEXT[atom.relation]} the ${noun(atom.object)}`;
    case "position":
      return `the ${noun(atom.object)} ${POSITION_TEXT[atom.position]}`;
    case "text": {
      const carrier = carrierOf(atom.text);
      return carrier ? `a ${carrier} that says "${atom.text}"` : `the text "${atom.text}"`;
    }
    case "style":
      return `in ${atom.style} style`;
  }
}

/**
 * The sim editor's instruction: the failed checklist questions as phrases the generator reads
 * ("exactly two red cubes, the cat left of the dog"), in checklist order; what it cannot turn
 * into a phrase is passed on as asked.
 */
export function editInstructionFor(request: string, failedQuestions: readonly string[]): string {
  const spec = analysePrompt(request).spec;
  const parsed = failedQuestions.map((question) => ({ question, atom: parseQuestion(question) }));
  const atoms = parsed.flatMap((p) => (p.atom ? [p.atom] : []));
  const counts = new Map<string, number | null>();
  for (const atom of atoms) if (atom.kind === "count") counts.set(atom.object, atom.count);
  const countOf: CountLookup = (object) => (counts.has(object) ? counts.get(object) : spec.objects.find((o) => o.id === object)?.count);
  const carrierOf = (text: string) => spec.objects.find((o) => o.text?.toLowerCase() === text.toLowerCase())?.noun ?? null;
  const phrases = phrasesFor(atoms, countOf, carrierOf);
  const rest = parsed.filter((p) => p.atom === null).map((p) => p.question.replace(/\?$/, ""));
  return [phrases.length ? `Change only this: ${phrases.join(", ")}` : "", rest.length ? `Also: ${rest.join("; ")}` : ""]
    .filter(Boolean)
    .join(". ");
}
