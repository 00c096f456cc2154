/**
 * Slash commands, autocomplete and buttons. Discord shows "The application did not respond"
 * unless an interaction is answered within 3 s, so each handler answers at once (an input
 * problem, checked locally) or defers and edits the answer later. Answers to one person are
 * ephemeral; progress everyone sees goes through job-threads.ts, never through the interaction
 * token, which dies after 15 minutes.
 */
import {
  MessageFlags,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type GuildMember,
  type Interaction,
  type APIInteractionGuildMember,
  type RepliableInteraction,
} from "discord.js";
import type { Logger } from "pino";
import { MIN_ITERATIONS, validateJobRequest } from "../../core/agent/request.ts";
import { InputError } from "../../core/errors.ts";
import type { JobService, JobStatus, Person } from "../../core/jobs/types.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { USAGE_DEFAULT_DAYS, usageAnswer, type UsageAccess } from "../../core/jobs/usage-ledger.ts";
import { parseCustomId } from "./buttons.ts";
import { COMMAND, OPTIONS, SKILL_GROUP, SUBCOMMANDS } from "./commands.ts";
import { answerSkillGroup, listSkillsWithStats, } from "./skill-commands.ts";
import type { TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import { DISCORD_LIMITS, oneLine, truncate } from "./limits.ts";
import { safeError } from "./log-safe.ts";
import { personOf } from "./person.ts";
import { newDiscordRef, readDiscordRef, toSurfaceRef } from "./surface-ref.ts";
import type { ThreadIndex } from "./thread-index.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import { takeAttachments } from "./attachments.ts";
import { checkReferenceSize } from "../../core/images/reference-images.ts";

/** Attempts added by Refine more. */
export const REFINE_MORE_ITERATIONS = 2;
// How long /gems create waits for its thread before answering without the link.
const THREAD_WAIT_MS = 10_000;
const STATUS_LIST_SIZE = 10;

export interface InteractionDeps {
  jobs: JobService;
  /** Where attached reference images are stored; without it attachments are refused. */
  images?: ImageStore;
  skills: SkillLibrary;
  threads: ThreadIndex;
  logger: Logger;
  /** `/gems usage`; without it the command says usage is not tracked. */
  usage?: UsageAccess;
  team?: TeamSkillsService | undefined;
}

export const OUTSIDE_THREAD = {
  stop: "Use `/gems stop` inside the thread of the job you want to stop.",
  feedback: "Use `/gems feedback` inside the thread of the job it is for (or just reply there).",
} as const;

export async function handleInteraction(deps: InteractionDeps, interaction: Interaction): Promise<void> {
  const log = deps.logger.child({ interaction: interaction.id, user: interaction.user.id });
  try {
    if (interaction.isAutocomplete()) await answerAutocomplete(deps, interaction);
    else if (interaction.isChatInputCommand() && interaction.commandName === COMMAND) await answerCommand(deps, interaction, log);
    else if (interaction.isButton()) await answerButton(deps, interaction, log);
  } catch (error) {
    log.error({ err: safeError(error) }, "could not answer an interaction");
    if (interaction.isRepliable()) {
      await answerPrivately(interaction, "Something went wrong on GEMS Bot's side. Try again in a moment.").catch((replyError: unknown) =>
        log.warn({ err: safeError(replyError) }, "could not tell the user about the failure"),
      );
    }
  }
}

/** An ephemeral answer: the first reply, or the edit of a deferred one. */
async function answerPrivately(interaction: RepliableInteraction, content: string): Promise<void> {
  const text = truncate(content, DISCORD_LIMITS.messageContent);
  if (interaction.deferred || interaction.replied) await interaction.editReply({ content: text, allowedMentions: { parse: [] } });
  else await interaction.reply({ content: text, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
}

function personOfInteraction(interaction: ChatInputCommandInteraction | ButtonInteraction): Person {
  const member = interaction.member as GuildMember | APIInteractionGuildMember | null;
  const nickname = member ? ("nickname" in member ? member.nickname : member.nick) : null;
  return personOf(interaction.user, nickname);
}

// ---- autocomplete --------------------------------------------------------------------------

async function answerAutocomplete(deps: InteractionDeps, interaction: AutocompleteInteraction): Promise<void> {
  const focused = interaction.options.getFocused(true);
  if (focused.name !== OPTIONS.skill) return interaction.respond([]);
  await interaction.respond(skillChoices(deps.skills, String(focused.value)));
}

/** auto and none first, then the library's skills matching what was typed; at most 25. */
export function skillChoices(skills: SkillLibrary, typed: string): Array<{ name: string; value: string }> {
  const query = typed.trim().toLowerCase();
  const all = [
    { name: "auto — let the planner choose a skill", value: "auto" },
    { name: "none — use no skill", value: "none" },
    ...skills.manifest().map((skill) => ({
      name: oneLine(`${skill.name} — ${skill.description}`, DISCORD_LIMITS.choiceName),
      value: skill.id.slice(0, DISCORD_LIMITS.choiceValue),
    })),
  ];
  const matches = query === "" ? all : all.filter((c) => c.value.includes(query) || c.name.toLowerCase().includes(query));
  return matches.slice(0, DISCORD_LIMITS.autocompleteChoices);
}

// ---- commands ------------------------------------------------------------------------------

async function answerCommand(deps: InteractionDeps, interaction: ChatInputCommandInteraction, log: Logger): Promise<void> {
  if (!interaction.inGuild()) return answerPrivately(interaction, "Use /gems in a server channel: each job gets its own thread there.");
  if (interaction.options.getSubcommandGroup(false) === SKILL_GROUP.name) {
    return answerSkillGroup(deps, interaction, personOfInteraction(interaction), answerPrivately);
  }
  switch (interaction.options.getSubcommand()) {
    case SUBCOMMANDS.create:
      return create(deps, interaction, log);
    case SUBCOMMANDS.skills:
      return listSkillsWithStats(deps, interaction);
    case SUBCOMMANDS.status:
      return showStatus(deps, interaction);
    case SUBCOMMANDS.stop:
      return stop(deps, interaction);
    case SUBCOMMANDS.feedback:
      return feedback(deps, interaction);
    case SUBCOMMANDS.usage:
      return showUsage(deps, interaction);
    default:
      return answerPrivately(interaction, "This command is not known to this version of GEMS Bot.");
  }
}

async function create(deps: InteractionDeps, interaction: ChatInputCommandInteraction, log: Logger): Promise<void> {
  const input = {
    prompt: interaction.options.getString(OPTIONS.prompt, true),
    skill: interaction.options.getString(OPTIONS.skill) ?? undefined,
    iterations: interaction.options.getInteger(OPTIONS.iterations) ?? undefined,
    refineMode: interaction.options.getString(OPTIONS.refine) ?? undefined,
  };
  const attachment = interaction.options.getAttachment(OPTIONS.image);
  try {
    // Checked here as well as by submit: an input problem is answered at once, without a defer.
    validateJobRequest(input, deps.skills, MIN_ITERATIONS);
  } catch (error) {
    if (error instanceof InputError) return answerPrivately(interaction, error.message);
    throw error;
  }
  // The declared size is known without downloading: a file too large is refused at once.
  const tooLarge = attachment ? checkReferenceSize(attachment.name, attachment.size) : null;
  if (tooLarge) return answerPrivately(interaction, tooLarge);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  let referenceImages: string[] = [];
  if (attachment) {
    if (!deps.images) return answerPrivately(interaction, "This GEMS Bot takes no images yet. Start the job without one.");
    const taken = await takeAttachments([{ name: attachment.name, size: attachment.size, url: attachment.url }], deps.images);
    if (!taken.ok) return answerPrivately(interaction, taken.message);
    referenceImages = taken.hashes;
  }
  // A job started inside a thread gets its own thread in the parent channel.
  const channel = interaction.channel;
  const channelId = channel?.isThread() ? (channel.parentId ?? interaction.channelId) : interaction.channelId;
  const ref = newDiscordRef(interaction.guildId, channelId);
  const result = await deps.jobs.submit({ ...input, referenceImages }, personOfInteraction(interaction), toSurfaceRef(ref));
  if (!result.ok) return answerPrivately(interaction, result.message);
  log.info({ jobId: result.jobId, position: result.position }, "job submitted from Discord");
  const place = result.position === 0 ? "It starts now." : `It is number ${result.position} in line.`;
  const thread = await deps.threads.whenReady(result.jobId, THREAD_WAIT_MS);
  const where = !thread ? "Its thread appears in this channel in a moment." : thread.ok ? `Follow it in <#${thread.threadId}>.` : thread.message;
  await answerPrivately(interaction, `🎨 Job \`${result.jobId}\` accepted. ${place} ${where}`);
}

async function showUsage(deps: InteractionDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  if (!deps.usage) return answerPrivately(interaction, "This GEMS Bot does not keep a usage ledger.");
  const days = interaction.options.getInteger(OPTIONS.days) ?? USAGE_DEFAULT_DAYS;
  const lines = usageAnswer(deps.usage, personOfInteraction(interaction), days);
  await answerPrivately(interaction, truncate(lines.join("\n"), DISCORD_LIMITS.messageContent));
}

async function showStatus(deps: InteractionDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  const jobId = deps.threads.jobIdOf(interaction.channelId);
  if (jobId) {
    const status = deps.jobs.status(jobId);
    return answerPrivately(interaction, status.ok ? describeJob(status.job) : status.message);
  }
  const person = personOfInteraction(interaction);
  const recent = deps.jobs.list(person.id).slice(0, STATUS_LIST_SIZE);
  if (recent.length === 0) return answerPrivately(interaction, "You have no jobs yet. Start one with `/gems create`.");
  const lines = recent.map((summary) => {
    const status = deps.jobs.status(summary.jobId);
    const thread = status.ok ? readDiscordRef(status.job.surfaceRef)?.threadId : undefined;
    return `• \`${summary.jobId}\` ${summary.status} — ${oneLine(summary.request.prompt, 80)}${thread ? ` <#${thread}>` : ""}`;
  });
  await answerPrivately(interaction, `Your latest jobs:\n${lines.join("\n")}`);
}

function describeJob(job: JobStatus): string {
  const best = job.best ? `best so far: iteration ${job.best.n} (${job.best.passed}/${job.best.total} checks)` : "no image yet";
  const where =
    job.status === "queued" ? `queued, number ${job.position ?? "?"} in line` : `${job.status}, ${job.iterations} of ${job.request.maxIterations} iterations`;
  const waiting = job.pendingFeedback > 0 ? ` · ${job.pendingFeedback} feedback waiting for the next step` : "";
  return `Job \`${job.jobId}\` by ${job.requester.name}: ${where}; ${best}${waiting}.`;
}

async function stop(deps: InteractionDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  const jobId = deps.threads.jobIdOf(interaction.channelId);
  if (!jobId) return answerPrivately(interaction, OUTSIDE_THREAD.stop);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const result = await deps.jobs.cancel(jobId, personOfInteraction(interaction));
  await answerPrivately(interaction, result.ok ? "⏹️ Stopped. The best image so far is posted in this thread." : result.message);
}

async function feedback(deps: InteractionDeps, interaction: ChatInputCommandInteraction): Promise<void> {
  const jobId = deps.threads.jobIdOf(interaction.channelId);
  if (!jobId) return answerPrivately(interaction, OUTSIDE_THREAD.feedback);
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const result = await deps.jobs.addFeedback(jobId, personOfInteraction(interaction), interaction.options.getString(OPTIONS.text, true));
  if (!result.ok) return answerPrivately(interaction, result.message);
  await answerPrivately(
    interaction,
    result.isApplied
      ? "📝 Added to the job's memory; the questions it adds are posted in the thread. Press **Refine more** to use it."
      : "📝 Noted; it goes into the job's memory before its next step.",
  );
}

// ---- buttons -------------------------------------------------------------------------------

async function answerButton(deps: InteractionDeps, interaction: ButtonInteraction, log: Logger): Promise<void> {
  const action = parseCustomId(interaction.customId);
  if (!action) return answerPrivately(interaction, "This button is not one GEMS Bot knows (it may be from an older version).");
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const person = personOfInteraction(interaction);
  switch (action.kind) {
    case "stop": {
      const result = await deps.jobs.cancel(action.jobId, person);
      return answerPrivately(interaction, result.ok ? "⏹️ Stopped. The best image so far is posted in the thread." : result.message);
    }
    case "pick": {
      const result = await deps.jobs.pick(action.jobId, action.n, person);
      if (result.ok) log.info({ jobId: action.jobId, iteration: action.n }, "result picked from Discord");
      return answerPrivately(interaction, result.ok ? `📌 Iteration ${action.n} is the result.` : result.message);
    }
    case "more": {
      const result = await deps.jobs.continue(action.jobId, REFINE_MORE_ITERATIONS, person);
      const place = result.ok && result.position > 0 ? ` It is number ${result.position} in line.` : "";
      return answerPrivately(interaction, result.ok ? `🔁 Refining: up to ${REFINE_MORE_ITERATIONS} more attempts.${place}` : result.message);
    }
  }
}
