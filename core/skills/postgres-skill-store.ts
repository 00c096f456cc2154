/**
 * TeamSkillStore and SkillDefaultStore in PostgreSQL (migration 4), for a scaled-out GEMS where
 * any surfaces process may add a skill or set a default and every process reads them:
 *   team_skill_versions (skill_id, version, text, added_by, added_at)   every version, never updated
 *   skill_defaults (person_id, choice, updated_at)                        one row per person
 * Nothing is cached: a default set in one process is read by the next submit in any other, and
 * the skill library reloads from `current()` when told a skill changed (core/jobs/distributed/skill-sync.ts).
 */
import type { Database } from "../memory/postgres/database.ts";
import type { SkillDefaultStore } from "./file-skill-store.ts";
import { SKILL_ID } from "./registry.ts";
import type { StoredSkillVersion, TeamSkillStore } from "./team-skills.ts";

interface VersionRow {
  skill_id: string;
  version: number;
  text?: string;
  added_by: string;
  added_at: Date;
}

const versionOf = (row: VersionRow): Omit<StoredSkillVersion, "text"> => ({ id: row.skill_id, version: row.version, by: row.added_by, at: row.added_at.toISOString() });

export interface PostgresTeamSkillStore extends TeamSkillStore {
  /** Stores a version with its own number, as `gems migrate` copies them; false when that version is already there. */
  importVersion(stored: StoredSkillVersion): Promise<boolean>;
}

export function createPostgresTeamSkillStore(db: Database): PostgresTeamSkillStore {
  const table = db.table("team_skill_versions");
  return {
    async current() {
      const { rows } = await db.pool.query<VersionRow & { text: string }>(
        `SELECT DISTINCT ON (skill_id) skill_id, version, text, added_by, added_at FROM ${table} ORDER BY skill_id, version DESC`,
      );
      return rows.map((row) => ({ ...versionOf(row), text: row.text }));
    },
    async save(id, text, meta) {
      if (!SKILL_ID.test(id)) throw new Error(`"${id}" is not a valid skill id`);
      return db.transaction(async (client) => {
        // Two admins replacing the same skill at once in two processes: one waits for the other,
        // so each gets its own version number instead of a primary-key error.
        await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`gems-skill:${db.schema}:${id}`]);
        const { rows } = await client.query<{ version: number }>(
          `INSERT INTO ${table} (skill_id, version, text, added_by, added_at)
           SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4 FROM ${table} WHERE skill_id = $1
           RETURNING version`,
          [id, text, meta.by, meta.at],
        );
        return (rows[0] as { version: number }).version;
      });
    },
    async versions(id) {
      const { rows } = await db.pool.query<VersionRow>(`SELECT skill_id, version, added_by, added_at FROM ${table} WHERE skill_id = $1 ORDER BY version`, [id]);
      return rows.map(versionOf);
    },
    async importVersion(stored) {
      if (!SKILL_ID.test(stored.id)) throw new Error(`"${stored.id}" is not a valid skill id`);
      // A version from before history was written has no time; "now" is the closest honest answer.
      const at = stored.at === "" ? new Date().toISOString() : stored.at;
      const { rowCount } = await db.pool.query(
        `INSERT INTO ${table} (skill_id, version, text, added_by, added_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (skill_id, version) DO NOTHING`,
        [stored.id, stored.version, stored.text, stored.by, at],
      );
      return rowCount === 1;
    },
  };
}

export interface PostgresSkillDefaultStore extends SkillDefaultStore {
  /** Sets a default only where the person has none, as `gems migrate` copies them; false when one was there. */
  importDefault(personId: string, choice: string): Promise<boolean>;
}

export function createPostgresSkillDefaultStore(db: Database): PostgresSkillDefaultStore {
  const table = db.table("skill_defaults");
  return {
    async get(personId) {
      const { rows } = await db.pool.query<{ choice: string }>(`SELECT choice FROM ${table} WHERE person_id = $1`, [personId]);
      return rows[0]?.choice ?? null;
    },
    async set(personId, choice) {
      if (choice === null) {
        await db.pool.query(`DELETE FROM ${table} WHERE person_id = $1`, [personId]);
        return;
      }
      await db.pool.query(
        `INSERT INTO ${table} (person_id, choice, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (person_id) DO UPDATE SET choice = EXCLUDED.choice, updated_at = EXCLUDED.updated_at`,
        [personId, choice],
      );
    },
    async importDefault(personId, choice) {
      const { rowCount } = await db.pool.query(`INSERT INTO ${table} (person_id, choice) VALUES ($1, $2) ON CONFLICT (person_id) DO NOTHING`, [personId, choice]);
      return rowCount === 1;
    },
  };
}
