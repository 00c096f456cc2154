/**
 * The sim MLLM as verifier: it cannot see pixels, so it reads the scene JSON the sim generator
 * embeds in each PNG and answers from that. Any other image is honestly unreadable to it.
 */
import { isPng, readPngText } from "../../core/images/png.ts";
import { parseQuestion } from "./questions.ts";
import { checkAtom, checkByKeywords, parseRenderedScene, type RenderedScene, SCENE_KEY } from "./rendered-scene.ts";

/** The scene a sim image carries, or null for anything else (another model's image, garbage). */
export function sceneOfImage(png: Uint8Array): RenderedScene | null {
  if (!isPng(png)) return null;
  let text: Record<string, string>;
  try {
    text = readPngText(png);
  } catch {
    // A damaged PNG is just an image the sim cannot read; the answer below says so.
    return null;
  }
  const json = text[SCENE_KEY];
  return json === undefined ? null : parseRenderedScene(json);
}

/** "yes, …" or "no, …" with a short reason, as the verifier prompt asks. */
export function verifierReply(png: Uint8Array | null, question: string): string {
  const scene = png ? sceneOfImage(png) : null;
  if (!scene) return "no, I cannot read this image: the simulated model only understands images made by the sim generator.";
  const atom = parseQuestion(question);
  if (atom) {
    const check = checkAtom(scene, atom);
    return `${check.holds ? "yes" : "no"}, ${check.reason}.`;
  }
  const guess = checkByKeywords(scene, question);
  return `${guess.holds ? "yes" : "no"}, but I am unsure: I could not parse the question, and ${guess.reason}.`;
}
