/**
 * Discord users as the job service's Persons. Ids carry the surface ("discord:<user id>") so an
 * admin here is not one on Slack; names are what people see in the server, for refusals and
 * feedback authors.
 */
import type { Person } from "../../core/jobs/types.ts";

const PREFIX = "discord:";

/** The parts of a user (API object or discord.js User) a Person is made from. */
export interface UserLike {
  id: string;
  username: string;
  global_name?: string | null;
  globalName?: string | null;
}

export function personOf(user: UserLike, nickname?: string | null): Person {
  const name = nickname?.trim() || user.globalName?.trim() || user.global_name?.trim() || user.username;
  return { id: `${PREFIX}${user.id}`, name };
}

/** The Discord user id of a Person, or null for people from other surfaces. */
export function userIdOf(person: Person): string | null {
  return person.id.startsWith(PREFIX) ? person.id.slice(PREFIX.length) : null;
}
