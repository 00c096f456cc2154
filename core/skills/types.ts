/** What the planner sees of a skill: its id, name and when to use it. Never the instructions. */
export interface SkillSummary {
  id: string;
  name: string;
  description: string;
}

export interface Skill extends SkillSummary {
  instructions: string;
}

/** A skill file that could not be read; reported with its path, never fatal. */
export interface SkillProblem {
  path: string;
  problem: string;
}

export interface SkillLibrary {
  /** Descriptions only, sorted by id: what the planner keeps in context. */
  manifest(): SkillSummary[];
  has(id: string): boolean;
  /** Loads the instructions on demand. Throws InputError for an unknown id. */
  load(id: string): Promise<Skill>;
  problems(): SkillProblem[];
}
