/**
 * `/gems skill add` on Slack. A slash command carries no file, so the admin first shares the
 * SKILL.md in the channel, then runs the command: the newest file they shared there in the last
 * hour is read (files.list, then url_private with the bot token, which needs files:read).
 */
import type { Person } from "../../core/jobs/types.ts";
import { MAX_SKILL_BYTES, type TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import type { BotContext } from "./bot-context.ts";
import { describeSlackError } from "./slack-errors.ts";

const RECENT_SECONDS = 60 * 60;

interface ListedFile {
  id?: string;
  name?: string;
  size?: number;
  created?: number;
  url_private?: string;
}

export async function addSharedSkill(ctx: BotContext, team: TeamSkillsService, person: Person, channel: string, userId: string): Promise<string> {
  if (!team.isAdmin(person)) return "Only admins (GEMS_ADMINS) can add skills. Ask one to add it.";
  let listed: ListedFile[];
  try {
    const answer = await ctx.client.files.list({ channel, user: userId, count: 5, ts_from: String(Math.floor(Date.now() / 1000) - RECENT_SECONDS) });
    listed = (answer.files ?? []) as ListedFile[];
  } catch (error) {
    ctx.logger.warn({ err: error }, "could not list shared files for /gems skill add");
    return `I could not look for your file (${describeSlackError(error)}). The app needs the files:read scope.`;
  }
  const file = listed.sort((a, b) => (b.created ?? 0) - (a.created ?? 0))[0];
  if (!file?.url_private) return "Share the SKILL.md in this channel first (drag it into the message box), then run `/gems skill add` again.";
  const name = file.name ?? "the file";
  if ((file.size ?? 0) > MAX_SKILL_BYTES) return `${name} is ${Math.ceil((file.size ?? 0) / 1024)} KB; the limit is ${MAX_SKILL_BYTES / 1024} KB. Shorten the instructions.`;
  let text: string;
  try {
    const response = await fetch(file.url_private, { headers: { authorization: `Bearer ${ctx.botToken ?? ""}` }, signal: AbortSignal.timeout(15_000) });
    // Without access Slack answers its sign-in page with 200, so the type is checked too.
    if (!response.ok || (response.headers.get("content-type") ?? "").startsWith("text/html")) throw new Error(`HTTP ${response.status} ${response.headers.get("content-type") ?? ""}`);
    text = await response.text();
  } catch (error) {
    ctx.logger.warn({ err: error, file: file.id }, "could not download a shared SKILL.md");
    return `I could not read ${name} from Slack. Check that the app has the files:read scope and is in this channel.`;
  }
  const added = await team.add(text, person);
  if (!added.ok) return added.message;
  ctx.logger.info({ skill: added.id, version: added.version, by: person.id }, "team skill added");
  return `✅ Skill *${added.name}* (\`${added.id}\`) ${added.isReplacing ? "replaced" : "added"} from ${name}: version ${added.version}. The next job can use it: \`/gems <prompt> --skill ${added.id}\`.`;
}
