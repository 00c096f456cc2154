/**
 * Text in and out of Slack. Outgoing: Slack parses `&`, `<` and `>` in every text field, so
 * user text must be escaped or a prompt such as "a <b> tag" disappears. Incoming: message and
 * command text arrive escaped, with mentions and links as `<…>` markup.
 */

/** Escapes the three characters Slack treats as markup. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Quotes user text as a mrkdwn block quote, one `>` per line. */
export function quoteMrkdwn(text: string): string {
  return escapeMrkdwn(text)
    .split("\n")
    .map((line) => `>${line}`)
    .join("\n");
}

/**
 * Turns Slack's wire text into what the person typed: links become their label (or URL), user
 * and channel mentions keep their readable part, entities are unescaped.
 */
export function plainTextFromSlack(text: string): string {
  const unlinked = text.replace(/<([^<>|]*)(?:\|([^<>]*))?>/g, (_match, target: string, label: string | undefined) => {
    if (label !== undefined && label !== "") return target.startsWith("@") || target.startsWith("#") ? `${target[0]}${label}` : label;
    if (target.startsWith("!")) return `@${target.slice(1)}`;
    return target;
  });
  return unlinked.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}

/** `<@U123>`, which Slack renders as the person's current name. */
export const mention = (userId: string): string => `<@${userId}>`;
