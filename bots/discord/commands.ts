/**
 * The /gems command and its registration. One command with subcommands keeps the bot to a
 * single entry in Discord's command picker. Registered at every start with a bulk PUT (which
 * replaces, so renamed options never linger): to one guild when DISCORD_GUILD_ID is set
 * (visible at once, for testing), else globally.
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
  Routes,
  type REST,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from "discord.js";
import { USAGE_DEFAULT_DAYS, USAGE_MAX_DAYS } from "../../core/jobs/usage-ledger.ts";
import { FEEDBACK_MAX_CHARS, MAX_ITERATIONS, MIN_ITERATIONS, PROMPT_MAX_CHARS } from "../../core/agent/request.ts";

export const COMMAND = "gems";

export const SUBCOMMANDS = {
  create: "create",
  skills: "skills",
  status: "status",
  stop: "stop",
  feedback: "feedback",
  usage: "usage",
} as const;

/** `/gems skill add|default`: a group, since both act on skills and Discord nests them so. */
export const SKILL_GROUP = { name: "skill", add: "add", default: "default" } as const;
export const SKILL_OPTIONS = { file: "file", skill: "skill" } as const;

export const OPTIONS = { prompt: "prompt", skill: "skill", iterations: "iterations", text: "text", image: "image", refine: "refine", days: "days" } as const;

export const gemsCommand: RESTPostAPIChatInputApplicationCommandsJSONBody = {
  name: COMMAND,
  type: ApplicationCommandType.ChatInput,
  description: "Make an image with the GEMS agent: it plans, generates, checks and refines.",
  // Threads and feedback need a server channel; DMs have neither.
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
  options: [
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: SUBCOMMANDS.create,
      description: "Start a job; every attempt and its checklist appear in a new thread.",
      options: [
        {
          type: ApplicationCommandOptionType.String,
          name: OPTIONS.prompt,
          description: "What the image should show.",
          required: true,
          max_length: PROMPT_MAX_CHARS,
        },
        {
          type: ApplicationCommandOptionType.String,
          name: OPTIONS.skill,
          description: "A skill from the library, auto (the planner picks) or none.",
          autocomplete: true,
        },
        {
          type: ApplicationCommandOptionType.Integer,
          name: OPTIONS.iterations,
          description: `Most attempts (${MIN_ITERATIONS}-${MAX_ITERATIONS}).`,
          min_value: MIN_ITERATIONS,
          max_value: MAX_ITERATIONS,
        },
        {
          type: ApplicationCommandOptionType.Attachment,
          name: OPTIONS.image,
          description: "A reference image (PNG, JPEG or WebP): its objects and layout guide the job.",
        },
        {
          type: ApplicationCommandOptionType.String,
          name: OPTIONS.refine,
          description: "After a failed check: redraw from a new prompt, or edit the best image.",
          choices: [
            { name: "redraw", value: "redraw" },
            { name: "edit", value: "edit" },
          ],
        },
      ],
    },
    { type: ApplicationCommandOptionType.Subcommand, name: SUBCOMMANDS.skills, description: "List the skills the planner can use, with how well each does." },
    {
      type: ApplicationCommandOptionType.SubcommandGroup,
      name: SKILL_GROUP.name,
      description: "Add a team skill, or choose your default skill.",
      options: [
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: SKILL_GROUP.add,
          description: "Admins: add or replace a skill from a SKILL.md file.",
          options: [{ type: ApplicationCommandOptionType.Attachment, name: SKILL_OPTIONS.file, description: "The SKILL.md to add.", required: true }],
        },
        {
          type: ApplicationCommandOptionType.Subcommand,
          name: SKILL_GROUP.default,
          description: "The skill your jobs use when you name none: a skill id, auto or none.",
          options: [{ type: ApplicationCommandOptionType.String, name: SKILL_OPTIONS.skill, description: "A skill id, auto or none.", required: true, max_length: 64 }],
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: SUBCOMMANDS.status,
      description: "In a job thread: that job. Elsewhere: your recent jobs.",
    },
    { type: ApplicationCommandOptionType.Subcommand, name: SUBCOMMANDS.stop, description: "Stop the job of this thread; it keeps its best image." },
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: SUBCOMMANDS.feedback,
      description: "Tell the job of this thread what to change; it becomes a check.",
      options: [
        {
          type: ApplicationCommandOptionType.String,
          name: OPTIONS.text,
          description: "What the next image should change.",
          required: true,
          max_length: FEEDBACK_MAX_CHARS,
        },
      ],
    },
    {
      type: ApplicationCommandOptionType.Subcommand,
      name: SUBCOMMANDS.usage,
      description: "Tokens, images and cost of your jobs (admins: the team's, by person).",
      options: [
        {
          type: ApplicationCommandOptionType.Integer,
          name: OPTIONS.days,
          description: `How many days back (default ${USAGE_DEFAULT_DAYS}).`,
          min_value: 1,
          max_value: USAGE_MAX_DAYS,
        },
      ],
    },
  ],
};

export interface CommandTarget {
  applicationId: string;
  guildId?: string | undefined;
}

/** Replaces the application's commands with /gems, in the guild or globally. */
export async function registerCommands(rest: REST, target: CommandTarget): Promise<void> {
  if (target.guildId) {
    // Guild commands take no contexts or integration types (they only exist in that guild).
    const { contexts: _contexts, integration_types: _types, ...guildCommand } = gemsCommand;
    await rest.put(Routes.applicationGuildCommands(target.applicationId, target.guildId), { body: [guildCommand] });
  } else {
    await rest.put(Routes.applicationCommands(target.applicationId), { body: [gemsCommand] });
  }
}
