/**
 * A person's default skill: a job submitted without a skill gets the skill its requester chose
 * with `/gems skill default`. A wrapper around submit, like moderation, so the job service
 * itself does not change. A default whose skill was since removed falls back to auto.
 */
import type { Logger } from "pino";
import type { SkillDefaultStore } from "../skills/file-skill-store.ts";
import type { SkillLibrary } from "../skills/types.ts";
import type { JobService } from "./types.ts";
import { overriding } from "./service-wrapper.ts";

export interface SkillDefaultsDeps {
  defaults: SkillDefaultStore;
  skills: SkillLibrary;
  logger: Logger;
}

export function withSkillDefaults(jobs: JobService, deps: SkillDefaultsDeps): JobService {
  const submit: JobService["submit"] = async (input, requester, surfaceRef) => {
    if (input.skill !== undefined && input.skill.trim() !== "") return jobs.submit(input, requester, surfaceRef);
    let choice: string | null = null;
    try {
      choice = await deps.defaults.get(requester.id);
    } catch (error) {
      // A default is a convenience: without it the job runs on auto rather than not at all.
      deps.logger.warn({ err: error, user: requester.id }, "could not read the person's default skill; using auto");
    }
    if (choice !== null && choice !== "auto" && choice !== "none" && !deps.skills.has(choice)) {
      deps.logger.warn({ user: requester.id, skill: choice }, "the person's default skill no longer exists; using auto");
      choice = null;
    }
    return jobs.submit(choice === null ? input : { ...input, skill: choice }, requester, surfaceRef);
  };
  return overriding(jobs, { submit });
}

/** Sets (or, for "auto", clears) a person's default; the answer is written for that person. */
export async function setSkillDefault(deps: Omit<SkillDefaultsDeps, "logger">, personId: string, raw: string): Promise<{ ok: boolean; message: string }> {
  const choice = raw.trim().toLowerCase();
  if (choice === "") return { ok: false, message: "Name a skill, or auto or none. Example: /gems skill default spatial-layout" };
  if (choice !== "auto" && choice !== "none" && !deps.skills.has(choice)) {
    const known = deps.skills.manifest().map((s) => s.id);
    return { ok: false, message: `Unknown skill "${raw.trim()}". Choose auto, none${known.length ? `, or one of: ${known.join(", ")}` : ""}.` };
  }
  await deps.defaults.set(personId, choice === "auto" ? null : choice);
  const what = choice === "auto" ? "the planner chooses (auto)" : choice === "none" ? "no skill (none)" : `the skill ${choice}`;
  return { ok: true, message: `Your jobs that name no skill now use ${what}.` };
}
