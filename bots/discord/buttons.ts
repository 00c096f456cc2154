/**
 * The buttons on job messages and their custom ids. Ids carry the job (and iteration) so a
 * press still works after a restart, with nothing kept in memory.
 */
import { ButtonStyle, ComponentType, type APIActionRowComponent, type APIButtonComponent } from "discord.js";
import { DISCORD_LIMITS } from "./limits.ts";

export type ButtonAction = { kind: "stop"; jobId: string } | { kind: "pick"; jobId: string; n: number } | { kind: "more"; jobId: string };

const PREFIX = "gems";

export function customIdOf(action: ButtonAction): string {
  const id = action.kind === "pick" ? `${PREFIX}:pick:${action.jobId}:${action.n}` : `${PREFIX}:${action.kind}:${action.jobId}`;
  // Job ids are short; a longer one would be rejected by Discord with the whole message.
  if (id.length > DISCORD_LIMITS.customId) throw new Error(`custom_id too long for job ${action.jobId}`);
  return id;
}

/** The action a custom id stands for, or null for ids that are not ours (or are malformed). */
export function parseCustomId(customId: string): ButtonAction | null {
  const [prefix, kind, jobId, n] = customId.split(":");
  if (prefix !== PREFIX || !jobId) return null;
  if (kind === "stop" || kind === "more") return { kind, jobId };
  if (kind === "pick" && n !== undefined && /^\d+$/.test(n)) return { kind, jobId, n: Number(n) };
  return null;
}

type Row = APIActionRowComponent<APIButtonComponent>;

function row(...buttons: APIButtonComponent[]): Row {
  return { type: ComponentType.ActionRow, components: buttons.slice(0, DISCORD_LIMITS.buttonsPerRow) };
}

function button(label: string, style: ButtonStyle.Primary | ButtonStyle.Success | ButtonStyle.Danger | ButtonStyle.Secondary, action: ButtonAction): APIButtonComponent {
  return { type: ComponentType.Button, style, label: label.slice(0, DISCORD_LIMITS.buttonLabel), custom_id: customIdOf(action) };
}

export function stopRow(jobId: string): Row {
  return row(button("Stop", ButtonStyle.Danger, { kind: "stop", jobId }));
}

export function pickRow(jobId: string, n: number): Row {
  return row(button(`Use this (iteration ${n})`, ButtonStyle.Secondary, { kind: "pick", jobId, n }));
}

/** Refine more always; Use this unless the result was already picked. */
export function finalRow(jobId: string, pickN: number | null): Row {
  const buttons = [button("Refine more", ButtonStyle.Primary, { kind: "more", jobId })];
  if (pickN !== null) buttons.push(button("Use this", ButtonStyle.Success, { kind: "pick", jobId, n: pickN }));
  return row(...buttons);
}
