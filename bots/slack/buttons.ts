/**
 * The buttons GEMS Bot puts on messages and what their values carry. Values travel through
 * Slack and come back in block_actions payloads, so they are parsed, never trusted.
 */
import { z } from "zod";
import type { types } from "@slack/bolt";
import { SLACK_LIMITS, truncate } from "./limits.ts";

export const STOP_ACTION = "gems_stop";
export const PICK_ACTION = "gems_pick";
export const REFINE_ACTION = "gems_refine";

const valueSchema = z.object({ jobId: z.string().min(1), n: z.number().int().positive().optional() });
export type ButtonValue = z.infer<typeof valueSchema>;

export function readButtonValue(value: string | undefined): ButtonValue | null {
  if (value === undefined) return null;
  try {
    const parsed = valueSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : null;
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
}

export function button(
  actionId: string,
  label: string,
  value: ButtonValue,
  style?: "primary" | "danger",
): types.Button {
  const encoded = JSON.stringify(value);
  // Job ids are short; a value this long means a bug, and Slack would reject the whole message.
  if (encoded.length > SLACK_LIMITS.buttonValue) throw new Error(`button value too long (${encoded.length} characters)`);
  return {
    type: "button",
    action_id: actionId,
    text: { type: "plain_text", text: truncate(label, SLACK_LIMITS.buttonText), emoji: true },
    value: encoded,
    ...(style ? { style } : {}),
  };
}
