/**
 * The composition root shared by every surface: turns the frozen config into the models, the
 * skill library and the logger. Surfaces receive these; they never build adapters themselves.
 */
import type { Logger } from "pino";
import type { Config, GeneratorConfig, MllmConfig } from "../config/schema.ts";
import type { ImageGenerator, Mllm } from "../core/models/ports.ts";
import type { SkillLibrary } from "../core/skills/types.ts";
import { createOpenAiCompatibleMllm } from "../core/models/openai-compatible-mllm.ts";
import { createGemsHttpGenerator } from "../core/models/gems-http-generator.ts";
import { createOpenAiImageGenerator } from "../core/models/openai-image-generator.ts";
import { discoverModelName } from "../core/models/discover-model.ts";
import { loadSkillLibrary } from "../core/skills/registry.ts";
import { createSimMllm } from "../servers/sim/sim-mllm.ts";
import { createSimGenerator } from "../servers/sim/sim-generator.ts";

export interface Runtime {
  config: Readonly<Config>;
  logger: Logger;
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
}

export async function createMllm(config: MllmConfig): Promise<Mllm> {
  if (config.kind === "sim") return createSimMllm({ latencyMs: config.latencyMs });
  const model = config.model ?? (await discoverModelName(config.baseUrl as string, config.apiKey));
  return createOpenAiCompatibleMllm({
    baseUrl: config.baseUrl,
    model,
    apiKey: config.apiKey,
    timeoutMs: config.timeoutMs,
    maxRetries: config.maxRetries,
  });
}

export function createGenerator(config: GeneratorConfig): ImageGenerator {
  switch (config.kind) {
    case "sim":
      return createSimGenerator({ latencyMs: config.latencyMs });
    case "gems-http":
      return createGemsHttpGenerator({ url: config.url, timeoutMs: config.timeoutMs, maxRetries: config.maxRetries });
    case "openai":
      return createOpenAiImageGenerator({
        baseUrl: config.baseUrl,
        model: config.model,
        apiKey: config.apiKey,
        timeoutMs: config.timeoutMs,
        maxRetries: config.maxRetries,
        ...(config.size ? { size: `${config.size.width}x${config.size.height}` } : {}),
      });
  }
}

export async function createRuntime(config: Readonly<Config>, logger: Logger): Promise<Runtime> {
  const skills = await loadSkillLibrary(config.skillsDir, {
    log: (problem) => logger.warn({ path: problem.path }, `skipped a skill file: ${problem.problem}`),
  });
  const [mllm, generator] = await Promise.all([createMllm(config.mllm), createGenerator(config.generator)]);
  return { config, logger, mllm, generator, skills };
}

/** One line for the operator saying which models run, and whether they are simulated. */
export function describeModels(runtime: Pick<Runtime, "mllm" | "generator">): string {
  return `MLLM: ${runtime.mllm.name}; image generator: ${runtime.generator.name}`;
}
