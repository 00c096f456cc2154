/**
 * Slack's limits that GEMS Bot's messages can reach, as data. Rendering truncates against them
 * and the fake Slack in test/fakes/slack enforces them, so a prompt of 4,000 characters or a
 * library of 200 skills degrades instead of failing with `invalid_blocks`.
 */
export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  blocksPerModal: 100,
  sectionText: 3000,
  contextElements: 10,
  contextText: 3000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  blockId: 255,
  staticSelectOptions: 100,
  optionText: 75,
  optionValue: 150,
  optionDescription: 75,
  imageAltText: 2000,
  imageTitle: 2000,
  modalTitle: 24,
  modalButton: 24,
  inputLabel: 2000,
  inputPlaceholder: 150,
  /** plain_text_input max_length may not exceed this. */
  plainTextInput: 3000,
  privateMetadata: 3000,
  /**
   * Message `text` and a file's `initial_comment`. Slack accepts up to 40,000 characters but
   * collapses anything past 4,000 behind "Show more", so GEMS Bot stays under it.
   */
  messageText: 4000,
} as const;

/** Cuts `text` to `max` characters, ending with "…" when something was cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  // A lone high surrogate would render as a replacement character.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * truncate() for mrkdwn: also drops an escape sequence or a `<…>` link that the cut left half
 * written, which Slack would otherwise show as raw markup.
 */
export function truncateMrkdwn(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = truncate(text, max).slice(0, -1);
  return `${cut.replace(/&[a-z]{0,4}$/, "").replace(/<[^>]*$/, "")}…`;
}
