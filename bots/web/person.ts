import type { Person } from "../../core/jobs/types.ts";

/**
 * The person behind a studio request without sign-in (GEMS_WEB_AUTH=none). The page asks for a
 * name once and keeps it in localStorage; this is attribution, not authentication, which is why
 * such a studio binds to 127.0.0.1. Whitespace becomes "-" in the id so it can be listed in
 * GEMS_ADMINS (person ids there are `surface:id` without spaces).
 */
export function webPerson(name: string): Person {
  return { id: `web:${name.trim().toLowerCase().replace(/\s+/g, "-")}`, name: name.trim() };
}

/** Slack's own claims in its ID tokens (Sign in with Slack); see docs for openid.connect.token. */
const SLACK_TEAM = "https://slack.com/team_id";
const SLACK_USER = "https://slack.com/user_id";

/**
 * The person an ID token names, in the ids every surface uses, so GEMS_ADMINS applies
 * everywhere: Sign in with Slack gives `slack:<team>:<user>`, the id the Slack bot gives the
 * same person; any other provider gives `oidc:<issuer host>:<claim>` (claim `sub` unless
 * GEMS_WEB_OIDC_PERSON_CLAIM names another, e.g. email). Null when the claim is missing.
 */
export function personFromClaims(claims: Record<string, unknown>, issuer: string, personClaim: string | undefined): Person | null {
  const text = (key: string): string | undefined => {
    const value = claims[key];
    return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  };
  const name = text("name") ?? text("preferred_username") ?? text("email") ?? text("sub") ?? "someone";
  const team = text(SLACK_TEAM);
  const user = text(SLACK_USER) ?? text("sub");
  if (team && user && personClaim === undefined) return { id: `slack:${team}:${user}`, name };
  const subject = text(personClaim ?? "sub");
  if (!subject) return null;
  // Subjects are case-sensitive (Okta's are mixed case), so only whitespace is replaced.
  return { id: `oidc:${new URL(issuer).host}:${subject.replace(/\s+/g, "-")}`, name };
}
