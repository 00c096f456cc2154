/**
 * GEMS Bot on Discord: `/gems` commands, one thread per job with every attempt in it, buttons
 * and feedback by reply. It only talks to the job service and renders its events.
 *
 * With `apiUrl` set (DISCORD_API_URL), REST goes there, and so does the gateway lookup:
 * discord.js asks REST for GET /gateway/bot and connects to the `url` it answers.
 */
import type { TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import {
  Client,
  Events,
  GatewayDispatchEvents,
  GatewayIntentBits,
  type GatewayMessageCreateDispatchData,
  type GatewayMessageReactionAddDispatchData,
  type GatewayMessageReactionRemoveDispatchData,
} from "discord.js";
import type { Logger } from "pino";
import type { JobService } from "../../core/jobs/types.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { registerCommands } from "./commands.ts";
import { createDiscordRest } from "./discord-rest.ts";
import { FeedbackInbox, handleThreadMessage } from "./feedback.ts";
import { handleInteraction } from "./interactions.ts";
import { createJobThreads } from "./job-threads.ts";
import { safeError } from "./log-safe.ts";
import { handleReaction } from "./reactions.ts";
import { SURFACE } from "./surface-ref.ts";
import { ThreadIndex } from "./thread-index.ts";

import type { UsageAccess } from "../../core/jobs/usage-ledger.ts";
import { waitAtMost } from "../../core/bounded-wait.ts";

export interface DiscordBotConfig {
  token: string;
  applicationId: string;
  guildId?: string | undefined;
  apiUrl?: string | undefined;
}

export interface DiscordBotDeps {
  jobs: JobService;
  images: ImageStore;
  skills: SkillLibrary;
  config: DiscordBotConfig;
  logger: Logger;
  /** The usage ledger for `/gems usage`, and who sees the team's. */
  usage?: UsageAccess;
  /** Team skills (add, default, stats); absent, `/gems skill` says they are not set up. */
  team?: TeamSkillsService;
}

export interface DiscordBot {
  /** Registers the commands, connects to the gateway and starts rendering job events. */
  start(): Promise<void>;
  /** Stops taking events, lets deliveries in progress finish, and disconnects. */
  stop(): Promise<void>;
}

// Guilds: channel and thread events; GuildMessages + MessageContent: replies in job threads as
// feedback (MessageContent is privileged and must be switched on in the Developer Portal).
// GuildMessageReactions: 👍/👎 on an iteration's message are team votes (not privileged).
const INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent, GatewayIntentBits.GuildMessageReactions];

const STOP_WAIT_MS = 10_000;

export function createDiscordBot(deps: DiscordBotDeps): DiscordBot {
  const { config, jobs } = deps;
  const logger = deps.logger.child({ surface: SURFACE });
  const client = new Client({ intents: INTENTS, ...(config.apiUrl ? { rest: { api: config.apiUrl } } : {}) });
  const rest = createDiscordRest(client.rest, deps.images, logger);
  const threads = new ThreadIndex(jobs);
  const inbox = new FeedbackInbox();
  const jobThreads = createJobThreads({ jobs, rest, threads, inbox, logger });
  let unsubscribe: (() => void) | null = null;
  const handlers = new Set<Promise<void>>();

  // Interactions and messages are handled concurrently; tracked so stop() can wait for them.
  const track = (work: Promise<void>): void => {
    handlers.add(work);
    void work.finally(() => handlers.delete(work));
  };

  client.on(Events.InteractionCreate, (interaction) => track(handleInteraction({ jobs, skills: deps.skills, threads, logger, images: deps.images, team: deps.team, ...(deps.usage ? { usage: deps.usage } : {}) }, interaction)));
  // Raw MESSAGE_CREATE rather than messageCreate: discord.js drops messages in channels missing
  // from its cache, such as a job thread from before a restart that Discord has archived.
  client.ws.on(GatewayDispatchEvents.MessageCreate, (message: GatewayMessageCreateDispatchData) =>
    track(
      handleThreadMessage({ jobs, rest, threads, inbox, logger, images: deps.images }, message).catch((error: unknown) =>
        logger.error({ err: safeError(error) }, "could not handle a message"),
      ),
    ),
  );
  // Raw events for the same reason as MESSAGE_CREATE: the message may not be in discord.js's cache.
  const onReaction = (data: GatewayMessageReactionAddDispatchData | GatewayMessageReactionRemoveDispatchData, isAdded: boolean) =>
    track(
      handleReaction({ jobs, threads, botUserId: () => client.user?.id, logger }, data, isAdded).catch((error: unknown) =>
        logger.error({ err: safeError(error) }, "could not handle a reaction"),
      ),
    );
  client.ws.on(GatewayDispatchEvents.MessageReactionAdd, (data: GatewayMessageReactionAddDispatchData) => onReaction(data, true));
  client.ws.on(GatewayDispatchEvents.MessageReactionRemove, (data: GatewayMessageReactionRemoveDispatchData) => onReaction(data, false));
  client.on(Events.Error, (error) => logger.error({ err: safeError(error) }, "discord.js reported an error"));
  client.on(Events.ShardDisconnect, (event, shardId) => logger.warn({ code: event.code, shardId }, "gateway disconnected for good"));
  client.rest.on("rateLimited", (info) =>
    logger.debug({ route: info.route, retryAfterMs: info.retryAfter, global: info.global }, "Discord rate limit; discord.js waits and retries"),
  );

  return {
    async start() {
      client.rest.setToken(config.token);
      try {
        await registerCommands(client.rest, config);
      } catch (error) {
        throw new Error(`Could not register the /gems command with Discord: ${safeError(error).message}. Check DISCORD_TOKEN and DISCORD_APPLICATION_ID.`, {
          cause: safeError(error),
        });
      }
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      await client.login(config.token);
      await ready;
      logger.info({ user: client.user?.id, guild: config.guildId ?? null }, "Discord bot connected");
      unsubscribe = jobs.subscribe(SURFACE, jobThreads.deliver);
    },

    async stop() {
      unsubscribe?.();
      unsubscribe = null;
      const handled = (async () => {
        while (handlers.size > 0) await Promise.allSettled([...handlers]);
      })();
      // A delivery stuck behind a long rate-limit wait must not hold up shutdown; its event is
      // not acknowledged, so the job service hands it over again at the next start.
      await waitAtMost(Promise.all([jobThreads.settle(), handled]), STOP_WAIT_MS);
      await client.destroy();
      logger.info("Discord bot stopped");
    },
  };
}
