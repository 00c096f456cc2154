/** What every listener of the Slack bot shares; built once in index.ts. */
import type { webApi } from "@slack/bolt";
import type { Logger } from "pino";
import type { JobService } from "../../core/jobs/types.ts";
import type { UsageAccess } from "../../core/jobs/usage-ledger.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import type { TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { People } from "./people.ts";
import type { PendingResponders } from "./responders.ts";
import type { ThreadIndex } from "./thread-index.ts";
import type { ImageStore } from "../../core/memory/stores.ts";

export interface BotContext {
  jobs: JobService;
  skills: SkillLibrary;
  client: webApi.WebClient;
  people: People;
  threads: ThreadIndex;
  responders: PendingResponders;
  logger: Logger;
  /** For files shared in job threads: stored as reference images, read with the bot token. */
  images?: ImageStore;
  botToken?: string;
  /** The usage ledger for `/gems usage`, and who sees the team's. */
  usage?: UsageAccess;
  /** Team skills (add, default, numbers); absent, `/gems skill` says they are not set up. */
  team?: TeamSkillsService | undefined;
}
