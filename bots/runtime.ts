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
import type { TeamSkillLibrary } from "../core/skills/team-skills.ts";
import type { SkillDefaultStore } from "../core/skills/file-skill-store.ts";
import { createTeamSkills, type TeamSkills } from "./skill-store-factory.ts";
import { openSharedConnections, type SharedConnections } from "./scale-out-connections.ts";
import type { ModerationStep } from "../core/moderation/moderator.ts";
import { createModerationFromConfig } from "./moderation-factory.ts";

export interface Runtime {
  config: Readonly<Config>;
  logger: Logger;
  mllm: Mllm;
  generator: ImageGenerator;
  skills: SkillLibrary;
  /** How trajectories and image provenance name the models (bots/model-factory.ts's modelNamesOf). */
  modelNames?: ModelNames;
  /** Checked before anything is generated; optional only so hand-built test runtimes stay short. */
  moderation?: ModerationStep;
  /** Skills added from chat or the studio, and each person's default; `skills` includes the team's. */
  team?: { library: TeamSkillLibrary; defaults: SkillDefaultStore };
  /**
   * Scaled out and serving: this process's one PostgreSQL pool and Redis link, used by team
   * skills and by the job service bots/server.ts builds. The runtime opened them and closes them.
   */
  shared?: SharedConnections;
  /**
   * Closes what the runtime opened: team skills' follower, then the shared connections. Call it
   * once, after the job service has closed.
   */
  close?(): Promise<void>;
}

export { createGenerator, createMllm } from "./model-factory.ts";

export async function createRuntime(config: Readonly<Config>, logger: Logger, options: { isServing?: boolean } = {}): Promise<Runtime> {
  const log = (problem: { path: string; problem: string }) => logger.warn({ path: problem.path }, `skipped a skill file: ${problem.problem}`);
  const bundled = await loadSkillLibrary(config.skillsDir, { log });
  // Opened here, before team skills load, so the job service can use the same ones later.
  const opened = config.scaleOut && options.isServing ? await openSharedConnections(config.scaleOut) : undefined;
  const shared = opened ? { db: opened.db, redis: opened.redis } : undefined;
  let teamSkills: TeamSkills;
  try {
    // Team skills (under the data dir, or in PostgreSQL when scaled out) override bundled ones of the same id.
    teamSkills = await createTeamSkills(config, bundled, logger, { ...(shared ? { shared } : {}), log });
  } catch (error) {
    await opened?.close();
    throw error;
  }
  const { library, defaults } = teamSkills;
  // The follower stops listening before the link it listens on closes.
  const close = async (): Promise<void> => {
    try {
      await teamSkills.close();
    } finally {
      await opened?.close();
    }
  };
  const skills = library;
  const team = { library, defaults };
  try {
    const [mllm, generator] = await Promise.all([createMllm(config.mllm), createGenerator(config.generator, options)]);
    const moderation = await createModerationFromConfig(config.moderation, logger.child({ component: "moderation" }));
    return { config, logger, mllm, generator, skills, modelNames: modelNamesOf(config, mllm), moderation, team, ...(shared ? { shared } : {}), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** One line for the operator saying which models run, and whether they are simulated. */
export function describeModels(runtime: Pick<Runtime, "mllm" | "generator">): string {
  return `MLLM: ${runtime.mllm.name}; image generator: ${runtime.generator.name}`;
}
