/**
 * The model ports behind shared semaphores: every job talks to the same wrapped instances, so
 * however many jobs run, a model server never sees more than its configured calls in flight.
 */
import type { ImageGenerator, Mllm } from "../models/ports.ts";
import type { Semaphore } from "./semaphore.ts";

export function limitMllm(mllm: Mllm, slots: Semaphore): Mllm {
  return {
    name: mllm.name,
    chat: (request) => slots.run(() => mllm.chat(request), request.signal),
  };
}

export function limitGenerator(generator: ImageGenerator, slots: Semaphore): ImageGenerator {
  return {
    name: generator.name,
    generate: (request) => slots.run(() => generator.generate(request), request.signal),
  };
}
