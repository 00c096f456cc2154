/**
 * `/gems skills` with each skill's numbers, `/gems skill add` (admins; a SKILL.md attached to
 * the command) and `/gems skill default`. Every answer is ephemeral: only the person who asked
 * sees it. The attachment is read from Discord's CDN, which needs no bot token.
 */
import { MessageFlags, type ChatInputCommandInteraction } from "discord.js";
import type { Logger } from "pino";
import { MAX_SKILL_BYTES, describeSkillStat, type TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { Person } from "../../core/jobs/types.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { SKILL_GROUP, SKILL_OPTIONS } from "./commands.ts";
import { DISCORD_LIMITS, oneLine, truncate } from "./limits.ts";
import { safeError } from "./log-safe.ts";

export async function listSkillsWithStats(deps: { skills: SkillLibrary; team?: TeamSkillsService | undefined }, interaction: ChatInputCommandInteraction): Promise<void> {
  const listing = deps.team?.list();
  const manifest = listing?.skills ?? deps.skills.manifest().map((s) => ({ ...s, isTeamSkill: false, stat: null }));
  const lines = manifest.map((s) => {
    const team = s.isTeamSkill ? " · team" : "";
    const numbers = !listing ? "" : s.stat ? `\n  ↳ ${describeSkillStat(s.stat).replace(/^[^—]*— /, "")}` : "\n  ↳ no finished jobs yet";
    return `**${s.name}** (\`${s.id}\`${team}) — ${oneLine(s.description, 200)}${numbers}`;
  });
  if (listing?.noSkill) lines.push(`_${describeSkillStat(listing.noSkill)}_`);
  const description = truncate(lines.length > 0 ? lines.join("\n") : "The skill library is empty.", DISCORD_LIMITS.embedDescription);
  await interaction.reply({
    content: "Pick one with `/gems create skill:`, set yours with `/gems skill default`, or leave it on auto and the planner chooses. Numbers: finished jobs, share whose best image passed every check, images per such success; beside them, jobs without a skill on prompts with as many checks.",
    embeds: [{ title: `Skills (${manifest.length})`, description }],
    flags: MessageFlags.Ephemeral,
  });
}

export async function answerSkillGroup(
  deps: { team?: TeamSkillsService | undefined; logger: Logger },
  interaction: ChatInputCommandInteraction,
  person: Person,
  answerPrivately: (interaction: ChatInputCommandInteraction, text: string) => Promise<void>,
): Promise<void> {
  const team = deps.team;
  if (!team) return answerPrivately(interaction, "Team skills are not set up on this GEMS Bot.");
  const sub = interaction.options.getSubcommand();
  if (sub === SKILL_GROUP.default) {
    const result = await team.setDefault(person, interaction.options.getString(SKILL_OPTIONS.skill, true));
    return answerPrivately(interaction, result.message);
  }
  if (sub !== SKILL_GROUP.add) return answerPrivately(interaction, "This command is not known to this version of GEMS Bot.");
  if (!team.isAdmin(person)) return answerPrivately(interaction, "Only admins (GEMS_ADMINS) can add skills. Ask one to add it.");
  const file = interaction.options.getAttachment(SKILL_OPTIONS.file, true);
  if (file.size > MAX_SKILL_BYTES) {
    return answerPrivately(interaction, `${file.name} is ${Math.ceil(file.size / 1024)} KB; the limit is ${MAX_SKILL_BYTES / 1024} KB. Shorten the instructions.`);
  }
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  let text: string;
  try {
    const response = await fetch(file.url, { signal: AbortSignal.timeout(15_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (error) {
    deps.logger.warn({ err: safeError(error) }, "could not download a skill attachment");
    return answerPrivately(interaction, `Could not download ${file.name} from Discord. Attach it again.`);
  }
  const added = await team.add(text, person);
  if (!added.ok) return answerPrivately(interaction, truncate(added.message, DISCORD_LIMITS.messageContent));
  deps.logger.info({ skill: added.id, version: added.version, by: person.id }, "team skill added");
  const what = added.isReplacing ? "replaced" : "added";
  return answerPrivately(interaction, `✅ Skill **${added.name}** (\`${added.id}\`) ${what} — version ${added.version}. The next job can use it: \`/gems create skill:${added.id}\`.`);
}
