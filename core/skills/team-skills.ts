/**
 * Skills the team adds at run time: validated, stored (every version kept), and merged over the
 * bundled library so the next job can use them without a restart. A team skill with the id of a
 * bundled one replaces it. Storage sits behind TeamSkillStore (files now; a PostgreSQL table
 * later), so the library never knows where the text lives.
 */
import { InputError } from "../errors.ts";
import { SkillFileError, parseSkillFile } from "./parse-skill.ts";
import { SKILL_ID } from "./registry.ts";
import type { Skill, SkillLibrary, SkillProblem, SkillSummary } from "./types.ts";

/** A SKILL.md is read whole into the planner's and rewriter's prompts; 32 KB is already long. */
export const MAX_SKILL_BYTES = 32 * 1024;

export interface StoredSkillVersion {
  id: string;
  version: number;
  text: string;
  by: string;
  at: string;
}

export interface TeamSkillStore {
  /** The newest version of every stored skill. */
  current(): Promise<StoredSkillVersion[]>;
  /** Stores a new version (the previous ones stay) and returns its number, from 1. */
  save(id: string, text: string, meta: { by: string; at: string }): Promise<number>;
  versions(id: string): Promise<Array<Omit<StoredSkillVersion, "text">>>;
}

export type AddSkillResult =
  | { ok: true; id: string; name: string; version: number; isReplacing: boolean }
  | { ok: false; message: string };

export interface TeamSkillLibrary extends SkillLibrary {
  /** Validates and stores a SKILL.md, then makes it usable at once. */
  add(text: string, by: string): Promise<AddSkillResult>;
  /** Rereads the store (e.g. after another process added a skill). */
  reload(): Promise<void>;
  /** Which ids come from the team (shown as such in listings). */
  isTeamSkill(id: string): boolean;
}

/** "Watercolour Wash!" → "watercolour-wash"; what a chat user can type as an id. */
export function skillIdOf(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/, "");
}

/** Checks a SKILL.md sent from chat or the studio; the message names the wrong line when one is. */
export function validateSkillText(text: string): { ok: true; skill: Skill } | { ok: false; message: string } {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_SKILL_BYTES) {
    return { ok: false, message: `The skill file is ${Math.ceil(bytes / 1024)} KB; the limit is ${MAX_SKILL_BYTES / 1024} KB. Shorten the instructions.` };
  }
  if (text.includes("\u0000")) return { ok: false, message: "The skill file is not text. Attach the SKILL.md itself (markdown)." };
  let parsed: Skill;
  try {
    parsed = parseSkillFile("pending", text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const line = error instanceof SkillFileError && error.line !== null ? `Line ${error.line}: ` : "";
    return { ok: false, message: `The skill was not added. ${line}${message}.` };
  }
  const id = skillIdOf(parsed.name);
  if (!SKILL_ID.test(id)) {
    return { ok: false, message: `The skill name "${parsed.name}" gives no usable id; use letters or digits in the name.` };
  }
  return { ok: true, skill: { ...parsed, id } };
}

export async function createTeamSkillLibrary(
  bundled: SkillLibrary,
  store: TeamSkillStore,
  options: { now?: () => Date; log?: (problem: SkillProblem) => void } = {},
): Promise<TeamSkillLibrary> {
  let team = new Map<string, Skill>();
  let problems: SkillProblem[] = [];
  const now = options.now ?? (() => new Date());

  async function reload(): Promise<void> {
    const next = new Map<string, Skill>();
    const found: SkillProblem[] = [];
    for (const stored of await store.current()) {
      try {
        next.set(stored.id, parseSkillFile(stored.id, stored.text));
      } catch (error) {
        // Stored only after validation, so this is a file edited by hand: report, keep going.
        const problem = { path: `team skill ${stored.id} v${stored.version}`, problem: error instanceof Error ? error.message : String(error) };
        found.push(problem);
        options.log?.(problem);
      }
    }
    team = next;
    problems = found;
  }

  await reload();

  const summaries = (): SkillSummary[] => {
    const byId = new Map(bundled.manifest().map((s) => [s.id, s]));
    for (const skill of team.values()) byId.set(skill.id, { id: skill.id, name: skill.name, description: skill.description });
    return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  };

  return {
    manifest: summaries,
    has: (id) => team.has(id) || bundled.has(id),
    problems: () => [...bundled.problems(), ...problems.map((p) => ({ ...p }))],
    async load(id) {
      const skill = team.get(id);
      if (skill) return { ...skill };
      if (bundled.has(id)) return bundled.load(id);
      const known = summaries().map((s) => s.id);
      throw new InputError(`Unknown skill "${id}". Known skills: ${known.length > 0 ? known.join(", ") : "none"}.`);
    },
    isTeamSkill: (id) => team.has(id),
    reload,
    async add(text, by) {
      const checked = validateSkillText(text);
      if (!checked.ok) return checked;
      const { skill } = checked;
      const isReplacing = team.has(skill.id) || bundled.has(skill.id);
      const version = await store.save(skill.id, text, { by, at: now().toISOString() });
      await reload();
      return { ok: true, id: skill.id, name: skill.name, version, isReplacing };
    },
  };
}
