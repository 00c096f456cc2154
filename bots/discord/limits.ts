/**
 * Discord's limits as data. Rendering truncates against these instead of hoping: a message one
 * character too long is rejected whole (400, code 50035), and the job's progress would stall.
 * Values from the Discord developer docs (Message, Embed, Interactions, Threads resources).
 */
export const DISCORD_LIMITS = {
  /** Characters of a message's `content`. */
  messageContent: 2000,
  embedTitle: 256,
  embedDescription: 4096,
  embedFieldName: 256,
  embedFieldValue: 1024,
  /** All titles, descriptions, fields and footers of all embeds of one message together. */
  embedTotal: 6000,
  embedsPerMessage: 10,
  autocompleteChoices: 25,
  choiceName: 100,
  choiceValue: 100,
  commandName: 32,
  commandDescription: 100,
  /** Characters of a string option the client lets people type (we ask for less). */
  stringOption: 6000,
  threadName: 100,
  buttonLabel: 80,
  customId: 100,
  buttonsPerRow: 5,
  /** A message's `nonce`, which Discord uses to drop a repeated create (with enforce_nonce). */
  nonce: 25,
  /** Default upload size for servers without boosts; larger files are refused with 413/40005. */
  uploadBytes: 10 * 1024 * 1024,
  /** An interaction must be answered (or deferred) this soon, or the user sees "failed". */
  interactionAckMs: 3_000,
  /** The interaction token (webhook follow-ups and edits) dies after this. */
  interactionTokenMs: 15 * 60 * 1000,
} as const;

const ELLIPSIS = "…";

/**
 * `text` cut to at most `max` UTF-16 units (Discord counts at least that many), ending in "…"
 * when cut. Never splits a surrogate pair, so an emoji at the cut cannot become garbage.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return "";
  let end = max - ELLIPSIS.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, Math.max(0, end))}${ELLIPSIS}`;
}

/** One line (newlines and runs of spaces folded), for thread names and choice names. */
export function oneLine(text: string, max: number): string {
  return truncate(text.replace(/\s+/g, " ").trim(), max);
}
