/**
 * What the surfaces may do with team skills, in one contract (as JobService is for jobs):
 * list them with their numbers, add one (admins), and set a person's default. Surfaces import
 * this and nothing else of core/skills, so storage and validation stay in one place.
 */
import type { Trajectory } from "../memory/trajectory.ts";
import type { SkillDefaultStore } from "../skills/file-skill-store.ts";
import type { AddSkillResult, TeamSkillLibrary } from "../skills/team-skills.ts";
import { MAX_SKILL_BYTES } from "../skills/team-skills.ts";
import type { SkillSummary } from "../skills/types.ts";
import { isAdmin } from "./permissions.ts";
import { setSkillDefault } from "./skill-defaults.ts";
import { computeSkillStats, describeSkillStat, type SkillStat } from "./skill-stats.ts";
import type { JobService, Person } from "./types.ts";

export { MAX_SKILL_BYTES, describeSkillStat };
export type { AddSkillResult, SkillStat };

export interface SkillListing extends SkillSummary {
  isTeamSkill: boolean;
  stat: SkillStat | null;
}

export interface TeamSkillsService {
  /** Every skill with its numbers, and the no-skill jobs' own line (null when there are none). */
  list(): { skills: SkillListing[]; noSkill: SkillStat | null };
  isAdmin(person: Person): boolean;
  /** Refused (never stored) unless `by` is an admin and the text is a valid SKILL.md. */
  add(text: string, by: Person): Promise<AddSkillResult>;
  setDefault(person: Person, choice: string): Promise<{ ok: boolean; message: string }>;
  getDefault(person: Person): Promise<string | null>;
}

export function createTeamSkillsService(deps: { library: TeamSkillLibrary; defaults: SkillDefaultStore; admins: readonly string[]; jobs: JobService }): TeamSkillsService {
  const trajectories = (): Trajectory[] => {
    const out: Trajectory[] = [];
    for (const summary of deps.jobs.list()) {
      const status = deps.jobs.status(summary.jobId);
      if (status.ok) out.push(status.job.trajectory);
    }
    return out;
  };
  return {
    list() {
      const stats = new Map(computeSkillStats(trajectories()).map((s) => [s.skill, s]));
      return {
        skills: deps.library.manifest().map((s) => ({ ...s, isTeamSkill: deps.library.isTeamSkill(s.id), stat: stats.get(s.id) ?? null })),
        noSkill: stats.get(null) ?? null,
      };
    },
    isAdmin: (person) => isAdmin(person, deps.admins),
    async add(text, by) {
      if (!isAdmin(by, deps.admins)) return { ok: false, message: "Only admins (GEMS_ADMINS) can add skills. Ask one to add it." };
      return deps.library.add(text, by.id);
    },
    setDefault: (person, choice) => setSkillDefault({ defaults: deps.defaults, skills: deps.library }, person.id, choice),
    getDefault: (person) => deps.defaults.get(person.id),
  };
}
