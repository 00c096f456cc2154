/** Who may steer whose job. Refusals name the requester so people know whom to ask. */
import type { Person, Refusal } from "./types.ts";

export type ControlAction = "stop" | "pick" | "continue" | "feedback";

const PHRASES: Record<ControlAction, string> = {
  stop: "stop this job",
  pick: "pick the result of this job",
  continue: "continue this job",
  feedback: "give feedback on this job",
};

export function isAdmin(person: Person, admins: readonly string[]): boolean {
  return admins.includes(person.id);
}

/** The requester and admins may; anyone else gets a refusal that says who can. */
export function checkControl(
  action: ControlAction,
  requester: Person,
  by: Person,
  admins: readonly string[],
): Refusal | null {
  if (by.id === requester.id || isAdmin(by, admins)) return null;
  return { ok: false, reason: "forbidden", message: `Only ${requester.name} or an admin can ${PHRASES[action]}.` };
}
