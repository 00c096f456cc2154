/**
 * Where team skills and per-person default skills are stored, chosen once from config: files
 * under the data dir for a single `gems serve`, PostgreSQL when scaled out (GEMS_DATABASE_URL).
 * A serving process that is scaled out also announces its saves on Redis and reloads its
 * library when any process announces one, so a skill added anywhere is used everywhere at once;
 * it does so over the process's one pool and Redis link, shared with the job service.
 */
import type { Logger } from "pino";
import type { Config } from "../config/schema.ts";
import { announcingSkillChanges, followSkillChanges } from "../core/jobs/distributed/skill-sync.ts";
import { openDatabase } from "../core/memory/postgres/database.ts";
import { createFileSkillDefaultStore, createFileTeamSkillStore, type SkillDefaultStore } from "../core/skills/file-skill-store.ts";
import { createPostgresSkillDefaultStore, createPostgresTeamSkillStore } from "../core/skills/postgres-skill-store.ts";
import { createTeamSkillLibrary, type TeamSkillLibrary } from "../core/skills/team-skills.ts";
import type { SkillLibrary, SkillProblem } from "../core/skills/types.ts";
import { connectionName, type SharedConnections } from "./scale-out-connections.ts";

export interface TeamSkills {
  library: TeamSkillLibrary;
  defaults: SkillDefaultStore;
  /**
   * Stops what team skills run: following changes on Redis when serving, the one-shot pool
   * otherwise. Never the shared connections, which their opener closes after this.
   */
  close(): Promise<void>;
}

/**
 * `shared`: the serving process's connections (bots/scale-out-connections.ts); with them team
 * skills announce and follow changes over the link the job service also uses. Scaled out without
 * them (a one-shot command) the stores are read once over a small pool of their own.
 */
export async function createTeamSkills(
  config: Readonly<Config>,
  bundled: SkillLibrary,
  logger: Logger,
  options: { shared?: SharedConnections; log: (problem: SkillProblem) => void },
): Promise<TeamSkills> {
  const scaleOut = config.scaleOut;
  if (!scaleOut) {
    const library = await createTeamSkillLibrary(bundled, createFileTeamSkillStore(config.dataDir), { log: options.log });
    return { library, defaults: createFileSkillDefaultStore(config.dataDir), close: async () => undefined };
  }
  if (!options.shared) {
    // `gems run`, `gems skills`: a few queries, no one to tell, so two connections are plenty.
    const db = await openDatabase(scaleOut.databaseUrl, { schema: scaleOut.databaseSchema, maxConnections: 2, applicationName: connectionName(scaleOut) });
    try {
      const library = await createTeamSkillLibrary(bundled, createPostgresTeamSkillStore(db), { log: options.log });
      return { library, defaults: createPostgresSkillDefaultStore(db), close: () => db.close() };
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
  }
  const { db, redis } = options.shared;
  const log = logger.child({ component: "skills" });
  const announced = announcingSkillChanges(createPostgresTeamSkillStore(db), redis, (error) =>
    log.warn({ err: error }, "a saved skill could not be announced on Redis; other processes pick it up at their next poll"),
  );
  const library = await createTeamSkillLibrary(bundled, announced, { log: options.log });
  const follower = await followSkillChanges(library, redis, {
    onError: (error) => log.warn({ err: error }, "team skills could not be reloaded; the last loaded ones stay in use"),
  });
  return { library, defaults: createPostgresSkillDefaultStore(db), close: () => follower.close() };
}
