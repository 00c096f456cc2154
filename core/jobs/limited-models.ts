/**
 * The model ports behind shared semaphores: every job talks to the same wrapped instances, so
 * however many jobs run, a model server never sees more than its configured calls in flight.
 * Each call is timed once it holds a slot, for the service's metrics.
 */
import { roleOf } from "../agent/prompts.ts";
import type { ImageGenerator, Mllm } from "../models/ports.ts";
import type { ModelCallStats, ModelKind } from "./model-call-stats.ts";
import type { CallSlots } from "./model-slots.ts";

async function timed<T>(stats: ModelCallStats, model: ModelKind, role: string, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let isOk = false;
  try {
    const result = await call();
    isOk = true;
    return result;
  } finally {
    stats.record(model, role, (performance.now() - started) / 1000, isOk);
  }
}

export function limitMllm(mllm: Mllm, slots: CallSlots, stats: ModelCallStats): Mllm {
  return {
    name: mllm.name,
    chat: (request) =>
      slots.run(() => timed(stats, "mllm", roleOf(request.messages) ?? "other", () => mllm.chat(request)), request.signal),
  };
}

export function limitGenerator(generator: ImageGenerator, slots: CallSlots, stats: ModelCallStats): ImageGenerator {
  return {
    name: generator.name,
    ...(generator.capabilities ? { capabilities: generator.capabilities } : {}),
    generate: (request) => slots.run(() => timed(stats, "generator", "generator", () => generator.generate(request)), request.signal),
  };
}
