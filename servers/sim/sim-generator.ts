/**
 * The simulated image generator: offline, deterministic in prompt and seed, and openly a
 * simulation (every image carries a "SIM" marker and its scene as JSON).
 */
import { InputError } from "../../core/errors.ts";
import type { GeneratorCapabilities, ImageGenerator, ImageRequest } from "../../core/models/ports.ts";
import { renderPrompt } from "./draw-scene.ts";
import { simulateLatency } from "./latency.ts";
import { hashText } from "./random.ts";
import { DEFAULT_CAPACITY } from "./salience.ts";
import { DEFAULT_PARTIAL_IMAGES, partialDrawings } from "./partial-drawings.ts";
import { draftOfPng, editDrawing, sceneOfPng } from "./edit-drawing.ts";

export interface SimGeneratorOptions {
  latencyMs?: number;
  width?: number;
  height?: number;
  /** How many requirements the sim draws reliably; see salience.ts. */
  capacity?: number;
  /**
   * Partial drawings reported through `onProgress` while it waits out `latencyMs`, evenly spaced
   * (default 3). With no latency there is nothing to watch, so none are made.
   */
  partialImages?: number;
  /** What it takes besides a prompt; both by default. A test turns them off to play a text-only generator. */
  capabilities?: GeneratorCapabilities;
}

const MIN_SIDE = 32;
const MAX_SIDE = 2048;

/** Creates the sim generator; see servers/sim/README.md for how it decides what to get wrong. */
export function createSimGenerator(options: SimGeneratorOptions = {}): ImageGenerator {
  const capabilities = options.capabilities ?? { references: true, edit: true };
  return {
    name: "sim",
    capabilities,
    async generate(request: ImageRequest): Promise<Uint8Array> {
      const prompt = request.prompt.trim();
      if (prompt === "") throw new InputError("The image prompt is empty; describe what to draw.");
      const width = side("width", request.width ?? options.width ?? 512);
      const height = side("height", request.height ?? options.height ?? 512);
      const seed = request.seed ?? hashText(prompt);
      const latencyMs = options.latencyMs ?? 0;
      const capacity = options.capacity ?? DEFAULT_CAPACITY;
      const draft = request.edit && capabilities.edit ? draftOfPng(request.edit.image) : null;
      if (request.edit && capabilities.edit && draft === null) {
        throw new InputError("The sim can only edit images it drew itself; this image carries no sim drawing to change.");
      }
      // The first reference the sim can read gives the scene its objects and layout; others it cannot see.
      const reference = capabilities.references ? ((request.images ?? []).map(sceneOfPng).find((s) => s !== null) ?? null) : null;
      const render = () =>
        draft && request.edit
          ? editDrawing(draft, request.edit.instruction, { seed, width, height }).png
          : renderPrompt(prompt, { seed, width, height, capacity, reference }).png;
      const partials = options.partialImages ?? DEFAULT_PARTIAL_IMAGES;
      if (!request.onProgress || latencyMs <= 0 || partials <= 0) {
        await simulateLatency(latencyMs, request.signal);
        return render();
      }
      // The image takes `latencyMs` in all: drawing the partials happens inside that time, each
      // reported at its share of it, as a server streams previews while it works.
      const startedAt = performance.now();
      // Rounded up: a timer may fire up to a millisecond before a fractional deadline.
      const until = (ms: number) => simulateLatency(Math.max(0, Math.ceil(startedAt + ms - performance.now())), request.signal);
      const stepMs = latencyMs / (partials + 1);
      // Drawing starts after the first wait, as before previews: concurrent calls overlap there.
      await until(stepMs);
      const png = render();
      let index = 0;
      for (const drawing of partialDrawings(png, partials)) {
        await until(++index * stepMs);
        request.onProgress({ percent: drawing.percent, preview: drawing.png });
      }
      await until(latencyMs);
      return png;
    },
  };
}

function side(name: string, value: number): number {
  if (!Number.isInteger(value) || value < MIN_SIDE || value > MAX_SIDE) {
    throw new InputError(`The image ${name} must be a whole number from ${MIN_SIDE} to ${MAX_SIDE} pixels (got ${value}).`);
  }
  return value;
}
