/**
 * Team skills scaled out: the text lives in PostgreSQL, but each process keeps its own parsed
 * TeamSkillLibrary (the planner reads it on every job, so it must not query per job). After a
 * save the saving process publishes `<prefix>:skills`; every process, workers included,
 * reloads its library on that message. A slow poll reloads too, for a message missed while
 * Redis was reconnecting.
 */
import type { TeamSkillLibrary, TeamSkillStore } from "../../skills/team-skills.ts";
import { createCoalescingWriter } from "../coalescing-writer.ts";
import type { RedisLink } from "./redis.ts";

export const SKILLS_CHANNEL = "skills";
/** The safety net only: the message normally arrives within milliseconds. */
export const SKILL_POLL_MS = 30_000;

/**
 * `store`, but every save is announced once it is stored. A notice that cannot be sent does not
 * undo the save (the skill is stored and this process uses it); `onError` hears of it, and the
 * other processes find the skill at their next poll.
 */
export function announcingSkillChanges(store: TeamSkillStore, redis: RedisLink, onError: (error: unknown) => void): TeamSkillStore {
  return {
    current: () => store.current(),
    versions: (id) => store.versions(id),
    async save(id, text, meta) {
      const version = await store.save(id, text, meta);
      await redis.commands.publish(redis.key(SKILLS_CHANNEL), JSON.stringify({ id, version })).catch(onError);
      return version;
    },
  };
}

export interface SkillFollower {
  close(): Promise<void>;
}

/** Reloads `library` on every `<prefix>:skills` message and every `pollMs`; reports reload failures to `onError`. */
export async function followSkillChanges(
  library: Pick<TeamSkillLibrary, "reload">,
  redis: RedisLink,
  options: { pollMs?: number; onError: (error: unknown) => void },
): Promise<SkillFollower> {
  const channel = redis.key(SKILLS_CHANNEL);
  // A burst of messages while a reload runs costs one more reload, not one each.
  const reload = createCoalescingWriter(() => library.reload());
  const reloadLogged = (): void => void reload().catch(options.onError);
  const onMessage = (from: string): void => {
    if (from === channel) reloadLogged();
  };
  redis.subscriber.on("message", onMessage);
  await redis.subscriber.subscribe(channel);
  // A skill saved between this process's first load and the subscription would be missed until the poll.
  reloadLogged();
  const timer = setInterval(reloadLogged, options.pollMs ?? SKILL_POLL_MS);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      redis.subscriber.off("message", onMessage);
      // Queued for a Redis that is not there, it would wait for its return; the link is
      // closing anyway, and its subscriptions go with the connection.
      if (redis.subscriber.status === "ready") await redis.subscriber.unsubscribe(channel).catch(() => undefined);
    },
  };
}
