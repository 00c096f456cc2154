/**
 * The one place that knows what a secret looks like. Keys and tokens are remembered when the
 * config is read (and when an adapter is built with one), and every message, log line and
 * stored error passes through `redactSecrets` before anyone can see it. A server may echo a key
 * back whole, or masked the way OpenAI does ("sk-abc1***wxyz", "sk-...wxyz"); both are caught.
 */

const known = new Set<string>();
/** Shorter values are too likely to occur in ordinary text to be replaced safely. */
const MIN_SECRET_LENGTH = 8;
const MASK = "[redacted]";

/**
 * Shapes of credentials that are scrubbed even when nobody registered them: OpenAI-style keys,
 * Slack bot/user/app tokens, Discord bot tokens, bearer headers.
 */
const SECRET_SHAPES: readonly RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{12,}/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  /\bxapp-[A-Za-z0-9-]{10,}/g,
  /\b[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g,
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
];

/** A masked rendering: some visible characters, a run of *, x, • or dots, more visible characters. */
const MASKED_TOKEN = /[A-Za-z0-9_-]*(?:\*{2,}|\.{3}|…|•{2,})[A-Za-z0-9_-]*/g;

export function rememberSecrets(...values: Array<string | undefined | null>): void {
  for (const value of values) {
    const secret = value?.trim();
    if (secret && secret.length >= MIN_SECRET_LENGTH) known.add(secret);
  }
}

/** For tests that check a secret registered by another test does not leak into their output. */
export function forgetSecretsForTests(): void {
  known.clear();
}

/** `text` with every known secret, masked echo of one, and credential-shaped token replaced. */
export function redactSecrets(text: string, ...extra: Array<string | undefined>): string {
  let out = text;
  const secrets = [...known, ...extra.filter((s): s is string => !!s && s.length >= MIN_SECRET_LENGTH)];
  for (const secret of secrets) out = out.replaceAll(secret, MASK);
  // A masked echo keeps the start or the end of a key; with the mask next to it, that gives it away.
  out = out.replace(MASKED_TOKEN, (token) => (isMaskedEchoOf(token, secrets) ? MASK : token));
  for (const shape of SECRET_SHAPES) {
    out = out.replace(shape, (_match, scheme?: string) => (typeof scheme === "string" ? `${scheme} ${MASK}` : MASK));
  }
  return out;
}

function isMaskedEchoOf(token: string, secrets: readonly string[]): boolean {
  const [visibleHead = "", visibleTail = ""] = token.split(/\*{2,}|\.{3}|…|•{2,}/);
  if (/^(sk|xox[abposr]|xapp)-/.test(visibleHead)) return true;
  return secrets.some(
    (secret) =>
      (visibleTail.length >= 3 && secret.endsWith(visibleTail)) || (visibleHead.length >= 5 && secret.startsWith(visibleHead)),
  );
}

