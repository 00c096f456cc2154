/**
 * The composition root shared by every surface: turns the frozen config into the models, the
 * skill library and the logger. Surfaces receive these; they never build adapters themselves.
 */
import type { Logger } from "pino";
import type { Config } from "../config/schema.ts";
import type { ModelNames } from "../core/memory/trajectory.ts";
import type { ImageGenerator, Mllm } from "../core/models/ports.ts";
import type { SkillLibrary } from "../core/skills/types.ts";
import { loadSkillLibrary } from "../core/skills/registry.ts";
import { createGenerator, createMllm, modelNamesOf } from "./model-factory.ts";

export interface Runtime {
  config: Readonly<Config>;
  logger: Logger;
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
  /** How trajectories and image provenance name the models (bots/model-factory.ts's modelNamesOf). */
  modelNames?: ModelNames;
}

export { createGenerator, createMllm } from "./model-factory.ts";

export async function createRuntime(config: Readonly<Config>, logger: Logger, options: { isServing?: boolean } = {}): Promise<Runtime> {
  const skills = await loadSkillLibrary(config.skillsDir, {
    log: (problem) => logger.warn({ path: problem.path }, `skipped a skill file: ${problem.problem}`),
  });
  const [mllm, generator] = await Promise.all([createMllm(config.mllm), createGenerator(config.generator, options)]);
  return { config, logger, mllm, generator, skills, modelNames: modelNamesOf(config, mllm) };
}

/** One line for the operator saying which models run, and whether they are simulated. */
export function describeModels(runtime: Pick<Runtime, "mllm" | "generator">): string {
  return `MLLM: ${runtime.mllm.name}; image generator: ${runtime.generator.name}`;
}
