/**
 * The sim MLLM as verifier: it cannot see pixels, so it reads the scene JSON the sim generator
 * embeds in each PNG and answers from that. Any other image is honestly unreadable to it.
 */
import { isPng, readPngText } from "../../core/images/png.ts";
import { parseQuestion } from "./questions.ts";
import { checkAtom, checkByKeywords, parseRenderedScene, type Check, type RenderedScene, SCENE_KEY } from "./rendered-scene.ts";
import { centreOf, REFERENCE_GAP } from "./draw-scene.ts";

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

/** "yes, …" or "no, …" with a short reason, as the verifier prompt asks. `references` follow the judged image. */
export function verifierReply(png: Uint8Array | null, question: string, references: readonly Uint8Array[] = []): string {
  const scene = png ? sceneOfImage(png) : null;
  if (!scene) return "no, I cannot read this image: the simulated model only understands images made by the sim generator.";
  const asked = /\breference image (\d+)\b/i.exec(question);
  if (asked) {
    const reference = references[Number(asked[1]) - 1];
    if (!reference) return `no, I was not shown reference image ${asked[1]}.`;
    const referenceScene = sceneOfImage(reference);
    if (!referenceScene) return `no, I cannot read reference image ${asked[1]}: the simulated model only understands images made by the sim generator.`;
    const check = checkKeepsReference(scene, referenceScene);
    return `${check.holds ? "yes" : "no"}, ${check.reason}.`;
  }
  const atom = parseQuestion(question);
  if (atom) {
    const check = checkAtom(scene, atom);
    return `${check.holds ? "yes" : "no"}, ${check.reason}.`;
  }
  const guess = checkByKeywords(scene, question);
  return `${guess.holds ? "yes" : "no"}, but I am unsure: I could not parse the question, and ${guess.reason}.`;
}

/**
 * Whether the image keeps a reference's objects (noun and colour) and their order left to right
 * and top to bottom; centres closer than REFERENCE_GAP of the picture count as level.
 */
export function checkKeepsReference(scene: RenderedScene, reference: RenderedScene): Check {
  const present = (o: RenderedScene["objects"][number]) => scene.objects.find((s) => s.count > 0 && s.noun === o.noun && s.colour === o.colour);
  const wanted = reference.objects.filter((o) => o.count > 0 && o.boxes.length > 0);
  const missing = wanted.filter((o) => !present(o));
  if (missing.length > 0) {
    return { holds: false, reason: `the reference's ${missing.map((o) => `${o.colour} ${o.noun}`).join(", ")} ${missing.length === 1 ? "is" : "are"} missing` };
  }
  const at = (o: RenderedScene["objects"][number]) => centreOf(present(o)!.boxes);
  for (let i = 0; i < wanted.length; i++) {
    for (let j = i + 1; j < wanted.length; j++) {
      const a = wanted[i]!;
      const b = wanted[j]!;
      const [ra, rb] = [centreOf(a.boxes), centreOf(b.boxes)];
      const [ia, ib] = [at(a), at(b)];
      const dx = rb.x - ra.x;
      if (Math.abs(dx) > reference.width * REFERENCE_GAP && Math.sign(ib.x - ia.x) !== Math.sign(dx)) {
        return { holds: false, reason: `the ${a.noun} and the ${b.noun} swapped sides compared with the reference` };
      }
      const dy = rb.y - ra.y;
      if (Math.abs(dy) > reference.height * REFERENCE_GAP && Math.sign(ib.y - ia.y) !== Math.sign(dy)) {
        return { holds: false, reason: `the ${a.noun} and the ${b.noun} swapped top and bottom compared with the reference` };
      }
    }
  }
  return { holds: true, reason: `it keeps the reference's ${wanted.length} object${wanted.length === 1 ? "" : "s"} in the same order` };
}
