/**
 * The sim's image-conditioned drawing: from a reference (its objects and layout kept) and edits
 * of its own images (only what the instruction names changes). Both read what the sim embedded
 * in its PNGs; an image from anywhere else carries nothing the sim can use.
 */
import { isPng, readPngText } from "../../core/images/png.ts";
import { DRAFT_KEY, renderPrompt, type RenderResult, type SimDraft } from "./draw-scene.ts";
import { createRandom, hashText } from "./random.ts";
import { parseRenderedScene, SCENE_KEY, type RenderedScene } from "./rendered-scene.ts";
import { decideOutcomes } from "./salience.ts";
import { analysePrompt } from "./scene.ts";

function pngText(bytes: Uint8Array): Record<string, string> | null {
  if (!isPng(bytes)) return null;
  try {
    return readPngText(bytes);
  } catch {
    // A damaged PNG is an image the sim cannot read, nothing worse.
    return null;
  }
}

/** The scene a sim image shows, or null for any other image. */
export function sceneOfPng(bytes: Uint8Array): RenderedScene | null {
  const json = pngText(bytes)?.[SCENE_KEY];
  return json === undefined ? null : parseRenderedScene(json);
}

/** How a sim image was drawn, or null for any other image (or a sim image from before drafts). */
export function draftOfPng(bytes: Uint8Array): SimDraft | null {
  const json = pngText(bytes)?.[DRAFT_KEY];
  if (json === undefined) return null;
  try {
    const value = JSON.parse(json) as Partial<SimDraft>;
    return typeof value.prompt === "string" && typeof value.seed === "number" && typeof value.rendered === "object" ? (value as SimDraft) : null;
  } catch {
    return null;
  }
}

/**
 * Edits a sim drawing. What the instruction names is drawn again with the generator's usual
 * attention (the first `capacity` named claims come out right, later ones only by luck); every
 * other claim keeps how it came out, and objects without a count keep theirs. A claim the drawing
 * never had (an object feedback added) is added to its prompt. The luck of the edit comes from
 * the new seed and the instruction, so a repeated edit can come out differently.
 */
export function editDrawing(draft: SimDraft, instruction: string, options: { seed: number; width: number; height: number }): RenderResult {
  const named = analysePrompt(instruction).atoms;
  const sourceKeys = new Set(analysePrompt(draft.prompt).atoms.map((a) => a.key));
  const prompt = named.some((a) => !sourceKeys.has(a.key)) ? `${draft.prompt}. ${instruction}` : draft.prompt;
  const random = createRandom(hashText(`${options.seed}\u0000edit\u0000${instruction}`));
  const pinned = new Map(Object.entries(draft.rendered));
  for (const outcome of decideOutcomes(named, draft.capacity, random)) pinned.set(outcome.mention.key, outcome.rendered);
  return renderPrompt(prompt, {
    seed: draft.seed,
    width: options.width,
    height: options.height,
    capacity: draft.capacity,
    reference: draft.reference,
    pinned,
    defaultCounts: draft.defaultCounts,
  });
}
