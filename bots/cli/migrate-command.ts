/**
 * `gems migrate --to postgres`: copies what a single `gems serve` kept in GEMS_DATA_DIR (SQLite
 * job records with their trajectories, event logs, delivery cursors and pending feedback; the
 * trajectory store; the image files; every version of each team skill and each person's default
 * skill) into GEMS_DATABASE_URL. Safe to repeat: what is already
 * there is left alone and counted. Stop the single process first, so its SQLite file is quiet.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { openSqliteJobStore } from "../../core/jobs/job-store.ts";
import { createPostgresJobStore } from "../../core/jobs/postgres/job-store.ts";
import { hashImage } from "../../core/memory/image-store.ts";
import { openSqliteTrajectoryStore } from "../../core/memory/keyv-trajectory-store.ts";
import { openDatabase, redactUrl } from "../../core/memory/postgres/database.ts";
import { createPostgresImageStore } from "../../core/memory/postgres/image-store.ts";
import { openPostgresTrajectoryStore } from "../../core/memory/postgres/trajectory-store.ts";
import { errorCode } from "../../core/memory/storage-errors.ts";
import { createFileTeamSkillStore, readFileSkillDefaults } from "../../core/skills/file-skill-store.ts";
import { createPostgresSkillDefaultStore, createPostgresTeamSkillStore } from "../../core/skills/postgres-skill-store.ts";
import type { Database } from "../../core/memory/postgres/database.ts";
import type { Runtime } from "../runtime.ts";
import type { Io } from "./main.ts";

export interface MigrationCounts {
  jobsCopied: number;
  jobsAlreadyThere: number;
  corruptJobs: string[];
  events: number;
  cursors: number;
  pendingFeedback: number;
  trajectoriesCopied: number;
  trajectoriesAlreadyThere: number;
  imagesCopied: number;
  imagesAlreadyThere: number;
  /** Files whose bytes do not hash to their name. */
  imagesSkipped: string[];
  /** Team skill versions (team-skills/<id>/v0001.md …). */
  skillVersionsCopied: number;
  skillVersionsAlreadyThere: number;
  /** skill-defaults.json entries; a person who already has a default in PostgreSQL keeps it. */
  skillDefaultsCopied: number;
  skillDefaultsAlreadyThere: number;
}

export async function migrate(runtime: Runtime, io: Io, options: { to?: string | undefined }): Promise<number> {
  const fail = (text: string): number => {
    io.stderr.write(`gems: ${text}\n`);
    return 2;
  };
  if (options.to !== "postgres") return fail(`migrate needs --to postgres (got ${options.to === undefined ? "nothing" : `"${options.to}"`}). Example: gems migrate --to postgres`);
  const scaleOut = runtime.config.scaleOut;
  if (!scaleOut) return fail("migrate --to postgres needs GEMS_DATABASE_URL and GEMS_REDIS_URL set (README.md, Scaling out).");
  const counts = await migrateToPostgres(runtime.config.dataDir, scaleOut.databaseUrl, scaleOut.databaseSchema);
  const lines = [
    `gems: copied ${runtime.config.dataDir} into PostgreSQL at ${redactUrl(scaleOut.databaseUrl)} (schema ${scaleOut.databaseSchema})`,
    `  jobs: ${counts.jobsCopied} copied, ${counts.jobsAlreadyThere} already there` +
      ` (with ${counts.events} events, ${counts.cursors} delivery cursors, ${counts.pendingFeedback} pending feedback)`,
    `  trajectories: ${counts.trajectoriesCopied} copied, ${counts.trajectoriesAlreadyThere} already there`,
    `  images: ${counts.imagesCopied} copied, ${counts.imagesAlreadyThere} already there`,
    `  team skill versions: ${counts.skillVersionsCopied} copied, ${counts.skillVersionsAlreadyThere} already there`,
    `  default skills: ${counts.skillDefaultsCopied} copied, ${counts.skillDefaultsAlreadyThere} already set`,
  ];
  if (counts.corruptJobs.length > 0) lines.push(`  skipped ${counts.corruptJobs.length} unreadable job(s): ${counts.corruptJobs.join("; ")}`);
  if (counts.imagesSkipped.length > 0) lines.push(`  skipped ${counts.imagesSkipped.length} image file(s) whose bytes do not match their name: ${counts.imagesSkipped.join(", ")}`);
  io.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

export async function migrateToPostgres(dataDir: string, databaseUrl: string, schema: string): Promise<MigrationCounts> {
  const counts: MigrationCounts = {
    jobsCopied: 0,
    jobsAlreadyThere: 0,
    corruptJobs: [],
    events: 0,
    cursors: 0,
    pendingFeedback: 0,
    trajectoriesCopied: 0,
    trajectoriesAlreadyThere: 0,
    imagesCopied: 0,
    imagesAlreadyThere: 0,
    imagesSkipped: [],
    skillVersionsCopied: 0,
    skillVersionsAlreadyThere: 0,
    skillDefaultsCopied: 0,
    skillDefaultsAlreadyThere: 0,
  };
  const db = await openDatabase(databaseUrl, { schema });
  const target = createPostgresJobStore(db, { ownsDatabase: false });
  const source = await openSqliteJobStore(dataDir);
  try {
    const loaded = await source.load();
    counts.corruptJobs = loaded.corrupt.map((broken) => `${broken.jobId} (${broken.problem})`);
    for (const record of loaded.records) {
      if (await target.get(record.jobId)) {
        counts.jobsAlreadyThere++;
        continue;
      }
      await target.put(record);
      counts.jobsCopied++;
      counts.events += record.events.length;
      counts.cursors += Object.keys(record.cursors).length;
      counts.pendingFeedback += record.pendingFeedback.length;
    }
  } finally {
    await source.close();
  }

  const trajectoriesFrom = await openSqliteTrajectoryStore(dataDir);
  const trajectoriesTo = openPostgresTrajectoryStore(db);
  try {
    for (const jobId of await trajectoriesFrom.listJobIds()) {
      const trajectory = await trajectoriesFrom.get(jobId).catch(() => undefined);
      if (!trajectory) continue;
      if (await trajectoriesTo.get(jobId)) {
        counts.trajectoriesAlreadyThere++;
        continue;
      }
      await trajectoriesTo.put(trajectory);
      counts.trajectoriesCopied++;
    }
  } finally {
    await trajectoriesFrom.close();
    await trajectoriesTo.close();
  }

  await copyTeamSkills(dataDir, db, counts);

  const images = createPostgresImageStore(db);
  const dir = join(dataDir, "images");
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
  try {
    for (const name of names.sort()) {
      const match = /^([0-9a-f]{64})\.png$/.exec(name);
      if (!match?.[1]) continue;
      if (await images.has(match[1])) {
        counts.imagesAlreadyThere++;
        continue;
      }
      const bytes = new Uint8Array(await readFile(join(dir, name)));
      if (hashImage(bytes) !== match[1]) {
        counts.imagesSkipped.push(name);
        continue;
      }
      await images.put(bytes);
      counts.imagesCopied++;
    }
  } finally {
    await db.close();
  }
  return counts;
}

/** Versions keep their numbers, so a skill's history reads the same before and after. */
async function copyTeamSkills(dataDir: string, db: Database, counts: MigrationCounts): Promise<void> {
  const skills = createPostgresTeamSkillStore(db);
  for (const version of await createFileTeamSkillStore(dataDir).everyVersion()) {
    if (await skills.importVersion(version)) counts.skillVersionsCopied++;
    else counts.skillVersionsAlreadyThere++;
  }
  const defaults = createPostgresSkillDefaultStore(db);
  for (const [personId, choice] of Object.entries(await readFileSkillDefaults(dataDir))) {
    if (await defaults.importDefault(personId, choice)) counts.skillDefaultsCopied++;
    else counts.skillDefaultsAlreadyThere++;
  }
}
