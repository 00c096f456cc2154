/**
 * Where team skills and per-person default skills are stored, chosen once from config: files
 * under the data dir for a single `gems serve`, PostgreSQL when scaled out (GEMS_DATABASE_URL).
 * A serving process that is scaled out also announces its saves on Redis and reloads its
 * library when any process announces one, so a skill added anywhere is used everywhere at once.
 */
import type { Logger } from "pino";
import type { Config } from "../config/schema.ts";
import { announcingSkillChanges, followSkillChanges } from "../core/jobs/distributed/skill-sync.ts";
import { connectRedis } from "../core/jobs/distributed/redis.ts";
import { openDatabase } from "../core/memory/postgres/database.ts";
import { createFileSkillDefaultStore, createFileTeamSkillStore, type SkillDefaultStore } from "../core/skills/file-skill-store.ts";
import { createPostgresSkillDefaultStore, createPostgresTeamSkillStore } from "../core/skills/postgres-skill-store.ts";
import { createTeamSkillLibrary, type TeamSkillLibrary } from "../core/skills/team-skills.ts";
import type { SkillLibrary, SkillProblem } from "../core/skills/types.ts";

export interface TeamSkills {
  library: TeamSkillLibrary;
  defaults: SkillDefaultStore;
  /** Closes the connections the PostgreSQL stores opened; nothing to do for files. */
  close(): Promise<void>;
}

export async function createTeamSkills(
  config: Readonly<Config>,
  bundled: SkillLibrary,
  logger: Logger,
  options: { isServing: boolean; log: (problem: SkillProblem) => void },
): Promise<TeamSkills> {
  const scaleOut = config.scaleOut;
  if (!scaleOut) {
    const library = await createTeamSkillLibrary(bundled, createFileTeamSkillStore(config.dataDir), { log: options.log });
    return { library, defaults: createFileSkillDefaultStore(config.dataDir), close: async () => undefined };
  }
  // A pool of its own, kept small: a handful of queries per skill change and per submit.
  const db = await openDatabase(scaleOut.databaseUrl, { schema: scaleOut.databaseSchema, maxConnections: 2 });
  const defaults = createPostgresSkillDefaultStore(db);
  if (!options.isServing) {
    // One-shot commands (`gems run`, `gems skills`) read the stores once; no one to tell.
    const library = await createTeamSkillLibrary(bundled, createPostgresTeamSkillStore(db), { log: options.log });
    return { library, defaults, close: () => db.close() };
  }
  let redis;
  try {
    redis = await connectRedis(scaleOut.redisUrl, scaleOut.redisPrefix);
  } catch (error) {
    await db.close();
    throw error;
  }
  const log = logger.child({ component: "skills" });
  const announced = announcingSkillChanges(createPostgresTeamSkillStore(db), redis, (error) =>
    log.warn({ err: error }, "a saved skill could not be announced on Redis; other processes pick it up at their next poll"),
  );
  const library = await createTeamSkillLibrary(bundled, announced, { log: options.log });
  const follower = await followSkillChanges(library, redis, {
    onError: (error) => log.warn({ err: error }, "team skills could not be reloaded; the last loaded ones stay in use"),
  });
  return {
    library,
    defaults,
    async close() {
      await follower.close();
      await redis.close();
      await db.close();
    },
  };
}
