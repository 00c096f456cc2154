/**
 * Which Web API failures are worth retrying. The WebClient already retries network errors and
 * waits out `ratelimited` answers; what reaches GEMS Bot is either still transient (the job
 * service delivers the event again later) or an answer that will never change (the bot is not
 * in the channel, the message was deleted), which retrying would only repeat forever.
 */

/** Slack's `error` string when the call reached Slack and Slack said no, else null. */
export function platformErrorOf(error: unknown): string | null {
  if (typeof error !== "object" || error === null) return null;
  const { code, data } = error as { code?: unknown; data?: unknown };
  if (code !== "slack_webapi_platform_error" || typeof data !== "object" || data === null) return null;
  const reason = (data as { error?: unknown }).error;
  return typeof reason === "string" ? reason : null;
}

/** Answers that mean the bot cannot post where the job lives. */
const UNREACHABLE = new Set(["not_in_channel", "channel_not_found", "is_archived", "restricted_action", "team_access_not_granted", "access_denied"]);

/** Answers about one message that a retry cannot change. */
const PERMANENT = new Set([
  ...UNREACHABLE,
  "message_not_found",
  "cant_update_message",
  "edit_window_closed",
  "invalid_blocks",
  "invalid_blocks_format",
  "msg_too_long",
  "no_text",
  "too_many_attachments",
  "invalid_arguments",
  "already_reacted",
  "thread_not_found",
  "file_not_found",
  "file_deleted",
  "invalid_auth",
  "not_authed",
  "account_inactive",
  "token_revoked",
  "missing_scope",
]);

export function isChannelUnreachable(error: unknown): boolean {
  const reason = platformErrorOf(error);
  return reason !== null && UNREACHABLE.has(reason);
}

export function isPermanentSlackError(error: unknown): boolean {
  const reason = platformErrorOf(error);
  return reason !== null && PERMANENT.has(reason);
}

/** A short description for logs, without request bodies (which can hold a response_url). */
export function describeSlackError(error: unknown): string {
  const reason = platformErrorOf(error);
  if (reason !== null) return `Slack answered ${reason}`;
  return error instanceof Error ? error.message : String(error);
}
