/**
 * Slack users as the job service's Persons. Ids carry the workspace ("slack:T123:U456") because
 * user ids are only unique within one; names come from the payload when it has one, else from
 * users.info, remembered so a busy thread costs one lookup per person.
 */
import type { webApi } from "@slack/bolt";
import type { Logger } from "pino";
import type { Person } from "../../core/jobs/types.ts";
import { mention } from "./mrkdwn.ts";

const PREFIX = "slack:";
const MAX_REMEMBERED = 5000;

export function personId(team: string, user: string): string {
  return `${PREFIX}${team}:${user}`;
}

/** The Slack user id inside a Person id made by personId, or null for another surface's person. */
export function slackUserOf(id: string): string | null {
  if (!id.startsWith(PREFIX)) return null;
  const user = id.slice(PREFIX.length).split(":")[1];
  return user === undefined || user === "" ? null : user;
}

export interface People {
  /** A Person whose name is already known (from a command or button payload). */
  remember(team: string, user: string, name: string | undefined): Person;
  /** A Person for a user seen only by id (a message event). */
  lookup(team: string, user: string): Promise<Person>;
}

export function createPeople(client: webApi.WebClient, logger: Logger): People {
  const names = new Map<string, string>();

  function keep(user: string, name: string): void {
    if (names.size >= MAX_REMEMBERED) names.delete(names.keys().next().value as string);
    names.set(user, name);
  }

  return {
    remember(team, user, name) {
      const trimmed = name?.trim();
      if (trimmed) keep(user, trimmed);
      return { id: personId(team, user), name: trimmed || names.get(user) || mention(user) };
    },

    async lookup(team, user) {
      let name = names.get(user);
      if (name === undefined) {
        try {
          const info = await client.users.info({ user });
          const profile = info.user?.profile;
          name = profile?.display_name?.trim() || profile?.real_name?.trim() || info.user?.name?.trim() || undefined;
        } catch (error) {
          // A name is a nicety: the mention still renders as the person's name inside Slack.
          logger.warn({ err: error, user }, "could not look up a Slack user's name");
        }
        // Only a real name is remembered, so one failed lookup does not stick.
        if (name === undefined) return { id: personId(team, user), name: mention(user) };
        keep(user, name);
      }
      return { id: personId(team, user), name };
    },
  };
}
