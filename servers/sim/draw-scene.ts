/**
 * Prompt → picture for the sim generator: read the prompt, decide which atoms come out right,
 * lay the groups out, paint them, and embed what was painted as JSON in the PNG.
 */
import { encodePng } from "../../core/images/png.ts";
import { type Colour, COLOUR_RGB, COLOURS, type Shape } from "./lexicon.ts";
import { layoutCells, type LayoutPosition, type LayoutRelation } from "./layout.ts";
import { createRandom, hashText, type Random } from "./random.ts";
import { Canvas, drawShape, type Rgb, TEXT_HEIGHT, textWidth } from "./raster.ts";
import { type Box, type RenderedObject, type RenderedScene, type RenderedText, SCENE_KEY } from "./rendered-scene.ts";
import { type AtomOutcome, decideOutcomes, flipPosition, flipRelation, misspell, wrongColour, wrongCount } from "./salience.ts";
import { analysePrompt, type SceneSpec } from "./scene.ts";
import { applyStyles, STYLE_BACKGROUNDS } from "./styles.ts";

export interface RenderOptions {
  seed: number;
  width: number;
  height: number;
  capacity: number;
  /** A reference image's scene: its objects are kept and its left/right and above/below order too. */
  reference?: RenderedScene | null;
  /** Atom key → drawn right or not, overriding the salience decision (edits pin what they do not name). */
  pinned?: ReadonlyMap<string, boolean>;
  /** Counts of objects the prompt gave none, to keep them across an edit instead of drawing new luck. */
  defaultCounts?: Readonly<Record<string, number>>;
}

/** PNG text keyword holding how a sim image was drawn, so the sim can edit it later. Never read by the verifier. */
export const DRAFT_KEY = "gems-sim-draft";

/** What the sim needs to edit one of its images: the prompt, the luck and what came out right. */
export interface SimDraft {
  prompt: string;
  seed: number;
  capacity: number;
  /** Atom key → whether it was drawn as asked. */
  rendered: Record<string, boolean>;
  defaultCounts: Record<string, number>;
  reference: RenderedScene | null;
}

export interface RenderResult {
  png: Uint8Array;
  scene: RenderedScene;
  /** Which atoms were drawn as asked; for tests and tuning, never shown to the verifier. */
  outcomes: AtomOutcome[];
}

interface Group {
  id: string;
  noun: string;
  shape: Shape;
  colour: Colour;
  count: number;
  text: string | null;
}

/** Renders a prompt the way the sim generator does; deterministic in prompt and seed. */
export function renderPrompt(prompt: string, options: RenderOptions): RenderResult {
  const { spec, atoms } = analysePrompt(prompt);
  // Mixing the prompt into the seed means a changed prompt also changes the luck, as with diffusion.
  const random = createRandom(hashText(`${options.seed}\u0000${prompt}`));
  const pinned = options.pinned;
  const outcomes = decideOutcomes(atoms, options.capacity, random).map((o) =>
    pinned?.has(o.mention.key) ? { ...o, rendered: pinned.get(o.mention.key) as boolean } : o,
  );
  const { groups, relations, positions, freeTexts, defaultCounts } = applyOutcomes(spec, outcomes, random, options.defaultCounts ?? {});
  if (options.reference) keepReference(options.reference, groups, relations, options.width, options.height);
  // A style the generator lost is simply not applied; the scene records only what was.
  const dropped = new Set(outcomes.flatMap((o) => (o.mention.atom.kind === "style" && !o.rendered ? [o.mention.atom.style] : [])));
  const draft: SimDraft = {
    prompt,
    seed: options.seed,
    capacity: options.capacity,
    rendered: Object.fromEntries(outcomes.map((o) => [o.mention.key, o.rendered])),
    defaultCounts,
    reference: options.reference ?? null,
  };
  const scene = paint(groups, relations, positions, freeTexts, spec.styles.filter((s) => !dropped.has(s)), options, draft);
  return { ...scene, outcomes };
}

/**
 * Drawing from a reference: its objects join the scene (those the prompt does not name as they
 * were), and its order left to right and top to bottom comes first in the layout, so a prompt's
 * relation that contradicts it is the one skipped.
 */
function keepReference(reference: RenderedScene, groups: Group[], relations: LayoutRelation[], width: number, height: number): void {
  for (const object of reference.objects) {
    if (object.count <= 0 || groups.some((g) => g.id === object.id)) continue;
    const text = reference.texts.find((t) => t.on === object.id)?.text ?? null;
    groups.push({ id: object.id, noun: object.noun, shape: object.shape, colour: object.colour, count: object.count, text });
  }
  const placed = reference.objects.filter((o) => o.count > 0 && o.boxes.length > 0).map((o) => ({ id: o.id, ...centreOf(o.boxes) }));
  const ordered: LayoutRelation[] = [];
  const byX = [...placed].sort((a, b) => a.x - b.x);
  for (let i = 1; i < byX.length; i++) {
    if (byX[i]!.x - byX[i - 1]!.x > width * REFERENCE_GAP) ordered.push({ subject: byX[i - 1]!.id, relation: "left of", object: byX[i]!.id });
  }
  const byY = [...placed].sort((a, b) => a.y - b.y);
  for (let i = 1; i < byY.length; i++) {
    if (byY[i]!.y - byY[i - 1]!.y > height * REFERENCE_GAP) ordered.push({ subject: byY[i - 1]!.id, relation: "above", object: byY[i]!.id });
  }
  relations.unshift(...ordered);
}

/** Centres closer than this share of the picture are "level"; the sim verifier uses the same. */
export const REFERENCE_GAP = 0.1;

export function centreOf(boxes: readonly Box[]): { x: number; y: number } {
  const left = Math.min(...boxes.map((b) => b.x));
  const right = Math.max(...boxes.map((b) => b.x + b.w));
  const top = Math.min(...boxes.map((b) => b.y));
  const bottom = Math.max(...boxes.map((b) => b.y + b.h));
  return { x: (left + right) / 2, y: (top + bottom) / 2 };
}

function applyOutcomes(spec: SceneSpec, outcomes: readonly AtomOutcome[], random: Random, keptCounts: Readonly<Record<string, number>>) {
  const defaultCounts: Record<string, number> = {};
  const groups: Group[] = spec.objects.map((object) => {
    let count = object.count;
    if (count === null) {
      count = keptCounts[object.id] ?? 2 + Math.floor(random() * 2);
      defaultCounts[object.id] = count;
    }
    return { id: object.id, noun: object.noun, shape: object.shape, colour: object.colour ?? defaultColour(object.noun), count, text: object.text };
  });
  const freeTexts = spec.texts.filter((text) => !spec.objects.some((o) => o.text === text));
  const relations: LayoutRelation[] = [];
  const positions: LayoutPosition[] = [];
  // Outcomes come most salient first, so the layout honours the most salient relations first.
  for (const { mention, rendered } of outcomes) {
    const atom = mention.atom;
    if (atom.kind === "relation") {
      const relation = rendered ? atom.relation : flipRelation(atom.relation);
      relations.push({ subject: atom.subject, relation, object: atom.object });
      continue;
    }
    if (atom.kind === "position") {
      positions.push({ id: atom.object, position: rendered ? atom.position : flipPosition(atom.position) });
      continue;
    }
    if (rendered) continue;
    if (atom.kind === "count" || atom.kind === "colour") {
      const group = groups.find((g) => g.id === atom.object);
      if (group && atom.kind === "count") group.count = wrongCount(atom.count, random);
      if (group && atom.kind === "colour") group.colour = wrongColour(atom.colour, random);
    } else if (atom.kind === "text") {
      const carrier = groups.find((g) => g.text === atom.text);
      if (carrier) carrier.text = misspell(atom.text, random);
      const free = freeTexts.indexOf(atom.text);
      if (free >= 0) freeTexts[free] = misspell(atom.text, random);
    }
  }
  return { groups: groups.filter((g) => g.count > 0), relations, positions, freeTexts, defaultCounts };
}

/** Objects named without a colour still get one, the same every time, so images are stable. */
const defaultColour = (noun: string): Colour => COLOURS[hashText(noun) % COLOURS.length]!;

const PLAQUE: Rgb = [238, 226, 196];

function paint(
  groups: Group[],
  relations: LayoutRelation[],
  positions: LayoutPosition[],
  freeTexts: string[],
  styles: string[],
  options: RenderOptions,
  draft: SimDraft,
) {
  const { width, height } = options;
  const background = styles.map((s) => STYLE_BACKGROUNDS[s]).find((b) => b !== undefined) ?? [236, 232, 224];
  const canvas = new Canvas(width, height, background);
  const markerScale = Math.max(1, Math.round(Math.min(width, height) / 160));
  const top = markerScale * (TEXT_HEIGHT + 4);
  const plaqueIds = freeTexts.map((_, i) => `text-${i + 1}`);
  const layout = layoutCells([...groups.map((g) => g.id), ...plaqueIds], relations, { width, height, top }, positions);

  const boxesOf = new Map(groups.map((g) => [g.id, instanceBoxes(layout.cells.get(g.id)!.cell, g.count, g.shape === "plaque")]));
  settleStacks(boxesOf, layout.stacked);
  const objects: RenderedObject[] = [];
  const texts: RenderedText[] = [];
  // Paint back to front, so a group "behind" another is partly covered by it.
  const byLayer = [...groups].sort((a, b) => layout.cells.get(a.id)!.layer - layout.cells.get(b.id)!.layer);
  for (const group of byLayer) {
    const boxes = boxesOf.get(group.id)!;
    for (const box of boxes) {
      drawShape(canvas, group.shape, box, COLOUR_RGB[group.colour]);
      if (group.text !== null) drawLabel(canvas, group.text, boardOf(box), COLOUR_RGB[group.colour]);
      else if (group.shape === "label") drawLabel(canvas, group.noun, labelBoard(box), COLOUR_RGB[group.colour]);
    }
    const layer = layout.cells.get(group.id)!.layer;
    objects.push({ id: group.id, noun: group.noun, shape: group.shape, colour: group.colour, count: group.count, boxes, layer });
    if (group.text !== null) texts.push({ text: group.text, on: group.id, box: boardOf(boxes[0]!) });
  }
  freeTexts.forEach((text, i) => {
    const box = instanceBoxes(layout.cells.get(plaqueIds[i]!)!.cell, 1, true)[0]!;
    drawShape(canvas, "plaque", box, PLAQUE);
    drawLabel(canvas, text, boardOf(box), PLAQUE);
    texts.push({ text, on: null, box: boardOf(box) });
  });
  applyStyles(canvas, styles, background);
  // Honesty marker: every sim image says what it is.
  canvas.drawText("SIM", markerScale * 2, markerScale * 2, markerScale, [120, 120, 120]);

  const scene: RenderedScene = { generator: "gems-sim", simulated: true, seed: options.seed, width, height, objects, texts, styles };
  const png = encodePng({
    width,
    height,
    rgba: canvas.rgba,
    text: { [SCENE_KEY]: JSON.stringify(scene), [DRAFT_KEY]: JSON.stringify(draft), Software: "GEMS Bot sim generator (a simulation, not an image model)" },
  });
  return { png, scene };
}

/** Copies of one object in a small grid, centred in the group's cell. */
function instanceBoxes(cell: Box, count: number, wide: boolean): Box[] {
  const columns = Math.max(1, Math.min(count, Math.round(Math.sqrt((count * cell.w) / cell.h)) || 1));
  const rows = Math.ceil(count / columns);
  const slotW = cell.w / columns;
  const slotH = cell.h / rows;
  const size = Math.min(slotW, slotH) * 0.78;
  const w = wide ? Math.min(slotW * 0.94, size * 1.4) : size;
  const boxes: Box[] = [];
  for (let i = 0; i < count; i++) {
    const column = i % columns;
    const row = Math.floor(i / columns);
    const x = cell.x + column * slotW + (slotW - w) / 2;
    const y = cell.y + row * slotH + (slotH - size) / 2;
    boxes.push({ x: Math.round(x), y: Math.round(y), w: Math.round(w), h: Math.round(size) });
  }
  return boxes;
}

/**
 * Moves each group drawn "on" another down until it rests on it. Bases are settled before what
 * sits on them (bottom up), so a stack of three touches all the way down.
 */
function settleStacks(boxesOf: Map<string, Box[]>, stacked: readonly LayoutRelation[]): void {
  const top = (boxes: readonly Box[]) => Math.min(...boxes.map((b) => b.y));
  const bottom = (boxes: readonly Box[]) => Math.max(...boxes.map((b) => b.y + b.h));
  const order = [...stacked].sort((a, b) => top(boxesOf.get(b.object)!) - top(boxesOf.get(a.object)!));
  for (const { subject, object } of order) {
    const boxes = boxesOf.get(subject)!;
    const gap = top(boxesOf.get(object)!) - bottom(boxes);
    boxesOf.set(subject, boxes.map((b) => ({ ...b, y: b.y + gap })));
  }
}

/** The inner part of a labelled box, where its noun is written. */
const labelBoard = (box: Box): Box => ({ x: box.x + box.w * 0.08, y: box.y + box.h * 0.3, w: box.w * 0.84, h: box.h * 0.4 });

/** The writable board of a plaque: its upper part, above the post. */
const boardOf = (box: Box): Box => ({ x: box.x, y: box.y, w: box.w, h: Math.round(box.h * 0.65) });

function drawLabel(canvas: Canvas, text: string, board: Box, paper: Rgb): void {
  const ink: Rgb = paper[0] + paper[1] + paper[2] > 380 ? [20, 20, 20] : [250, 250, 250];
  const fit = (s: string, scale: number) => textWidth(s, scale) <= board.w * 0.9;
  const scale = Math.max(1, Math.floor(Math.min((board.w * 0.9) / Math.max(1, textWidth(text, 1)), (board.h * 0.6) / TEXT_HEIGHT)));
  let shown = text;
  // Too long even at the smallest size: show what fits; the scene JSON keeps the whole text.
  while (shown.length > 1 && !fit(shown, scale)) shown = shown.slice(0, -1);
  const x = board.x + (board.w - textWidth(shown, scale)) / 2;
  const y = board.y + (board.h - TEXT_HEIGHT * scale) / 2;
  canvas.drawText(shown, Math.round(x), Math.round(y), scale, ink);
}
