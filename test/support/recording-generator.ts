/**
 * A generator wrapper that keeps every request it passes on, so a test can check what reached
 * the generator (reference images, edits, seeds) without replacing the generator itself.
 */
import type { GeneratorCapabilities, ImageGenerator, ImageRequest } from "../../core/models/ports.ts";

/** `capabilities` replaces the inner generator's, for a test that needs another set. */
export function recordingGenerator(inner: ImageGenerator, capabilities = inner.capabilities): { generator: ImageGenerator; requests: ImageRequest[] } {
  const requests: ImageRequest[] = [];
  const generator: ImageGenerator = {
    name: inner.name,
    ...(capabilities ? { capabilities } : {}),
    generate: (request) => {
      requests.push(request);
      return inner.generate(request);
    },
  };
  return { generator, requests };
}
