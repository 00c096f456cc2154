/**
 * GEMS Bot on Slack: `/gems` starts a job whose thread shows every iteration; replies in the
 * thread are feedback; buttons stop, pick and refine. This file wires Bolt to the job service;
 * see README.md for the app manifest and the two connection modes.
 */
import type { TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { AddressInfo } from "node:net";
import { App } from "@slack/bolt";
import type { Logger } from "pino";
import type { JobService } from "../../core/jobs/types.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { registerActions } from "./actions.ts";
import { appOptionsFor, receiverModeOf, type ClientTuning, type ReceiverMode, type SlackConnectionConfig } from "./app-options.ts";
import { createBoltLogger } from "./bolt-logger.ts";
import type { BotContext } from "./bot-context.ts";
import { registerCommands } from "./commands.ts";
import type { UsageAccess } from "../../core/jobs/usage-ledger.ts";
import { createEventDeliverer } from "./deliver-events.ts";
import type { PreviewPacing } from "./preview-pacing.ts";
import { registerFeedback } from "./feedback.ts";
import { registerMentions } from "./mentions.ts";
import { registerVotes } from "./votes.ts";
import { createPeople } from "./people.ts";
import { describeSlackError, platformErrorOf } from "./slack-errors.ts";
import { PendingResponders } from "./responders.ts";
import { ThreadIndex } from "./thread-index.ts";
import { SURFACE } from "./thread-ref.ts";
import { waitAtMost } from "../../core/bounded-wait.ts";

export type { SlackConnectionConfig } from "./app-options.ts";

const STOP_WAIT_MS = 10_000;

export interface SlackBotDeps {
  jobs: JobService;
  images: ImageStore;
  skills: SkillLibrary;
  /** Team skills (add, default, numbers); absent, `/gems skill` says they are not set up. */
  team?: TeamSkillsService;
  config: SlackConnectionConfig;
  logger: Logger;
  /** WebClient tuning; tests shorten the retry waits. */
  client?: ClientTuning;
  /** How often live previews may update status cards (preview-pacing.ts); Slack's Tier 3 budget by default. */
  previewPacing?: PreviewPacing;
  /** The usage ledger for `/gems usage`, and who sees the team's. */
  usage?: UsageAccess;
}

export interface SlackBot {
  readonly mode: ReceiverMode;
  /** Checks the token (auth.test), starts receiving, and starts rendering job events. */
  start(): Promise<void>;
  /** Stops receiving and rendering; events not yet rendered are delivered again at the next start. */
  stop(): Promise<void>;
  /** Where the HTTP receiver listens once started; null in Socket Mode or before start. */
  address(): { host: string; port: number } | null;
}

export function createSlackBot(deps: SlackBotDeps): SlackBot {
  const { jobs, config } = deps;
  const log = deps.logger.child({ surface: SURFACE });
  const mode = receiverModeOf(config);
  const app = new App(appOptionsFor(config, createBoltLogger(log.child({ component: "bolt" })), deps.client));
  const threads = new ThreadIndex(jobs);
  const responders = new PendingResponders();
  const ctx: BotContext = {
    jobs,
    skills: deps.skills,
    team: deps.team,
    client: app.client,
    people: createPeople(app.client, log),
    threads,
    responders,
    logger: log,
    images: deps.images,
    botToken: config.botToken,
    ...(deps.usage ? { usage: deps.usage } : {}),
  };
  registerCommands(app, ctx);
  registerActions(app, ctx);
  registerFeedback(app, ctx);
  registerMentions(app, ctx);
  registerVotes(app, ctx);
  app.error(async (error) => {
    log.error({ err: error }, "a Slack listener failed");
  });
  const deliverer = createEventDeliverer({
    jobs,
    images: deps.images,
    client: app.client,
    threads,
    responders,
    logger: log,
    ...(deps.previewPacing ? { previewPacing: deps.previewPacing } : {}),
  });

  let unsubscribe: (() => void) | null = null;
  let listening: { host: string; port: number } | null = null;
  let isReceiving = false;

  return {
    mode,
    address: () => listening,

    async start() {
      try {
        await app.init();
      } catch (error) {
        const reason = platformErrorOf(error);
        if (reason === null) throw new Error(`Could not reach Slack to check SLACK_BOT_TOKEN: ${describeSlackError(error)}`, { cause: error });
        throw new Error(`Slack refused SLACK_BOT_TOKEN (${reason}). Copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page.`, { cause: error });
      }
      if (mode === "http") {
        // Without a host Node listens on every interface, IPv6 included.
        const server = await app.start(config.host ? { port: config.port, host: config.host } : { port: config.port }).catch((error: unknown) => {
          const code = (error as { code?: unknown }).code;
          if (code === "EADDRINUSE") throw new Error(`SLACK_PORT ${config.port} is already in use; choose another port.`, { cause: error });
          throw error;
        });
        const address = server.address() as AddressInfo;
        listening = { host: config.host ?? address.address, port: address.port };
        log.info({ mode, port: address.port }, "Slack bot listening for HTTP requests");
      } else {
        await app.start();
        log.info({ mode }, "Slack bot connected in Socket Mode");
      }
      isReceiving = true;
      threads.rebuild();
      unsubscribe = jobs.subscribe(SURFACE, (event, job) => deliverer.handle(event, job));
    },

    async stop() {
      unsubscribe?.();
      unsubscribe = null;
      // An event still being posted may be retrying against a Slack outage; it is not marked
      // delivered, so the next start renders it again. Waiting for it is bounded.
      await waitAtMost(deliverer.settle(), STOP_WAIT_MS);
      if (isReceiving) await app.stop();
      isReceiving = false;
      listening = null;
    },
  };
}
