/** The surfaces' settings: the Discord and Slack bots (each on when its token is set) and the studio. */
import { choice, exactUrl, integer, optionalText, url, type EnvOf } from "./env-fields.ts";

export const SURFACE_EXAMPLES: Record<string, string> = {
  DISCORD_API_URL: "https://discord.com/api",
  SLACK_API_URL: "https://slack.com/api/",
  SLACK_PORT: "3000",
  GEMS_WEB_PORT: "8787",
  GEMS_WEB_HOST: "127.0.0.1",
  GEMS_WEB_AUTH: "oidc",
  GEMS_WEB_OIDC_ISSUER: "https://slack.com",
  GEMS_WEB_OIDC_CLIENT_ID: "2141029472.691202649728",
  GEMS_WEB_OIDC_CLIENT_SECRET: "<from the provider's app settings>",
  GEMS_WEB_PUBLIC_URL: "https://studio.example.com",
  GEMS_WEB_COOKIE_SECRET: "<32 or more random characters, e.g. from openssl rand -base64 32>",
  GEMS_WEB_OIDC_PERSON_CLAIM: "email",
  GEMS_WEB_OIDC_SCOPES: "openid profile email",
  GEMS_WEB_SESSION_HOURS: "12",
};

export const SURFACE_FIELDS = {
  DISCORD_TOKEN: optionalText,
  DISCORD_APPLICATION_ID: optionalText,
  DISCORD_GUILD_ID: optionalText,
  DISCORD_API_URL: url,
  SLACK_BOT_TOKEN: optionalText,
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_APP_TOKEN: optionalText,
  SLACK_API_URL: url,
  SLACK_PORT: integer(1, 65_535, 3000),
  GEMS_WEB_PORT: integer(0, 65_535, 8787),
  GEMS_WEB_HOST: optionalText,
  GEMS_WEB_AUTH: choice(["oidc", "none"] as const),
  GEMS_WEB_OIDC_ISSUER: exactUrl,
  GEMS_WEB_OIDC_CLIENT_ID: optionalText,
  GEMS_WEB_OIDC_CLIENT_SECRET: optionalText,
  GEMS_WEB_PUBLIC_URL: url,
  GEMS_WEB_COOKIE_SECRET: optionalText,
  GEMS_WEB_OIDC_PERSON_CLAIM: optionalText,
  GEMS_WEB_OIDC_SCOPES: optionalText,
  GEMS_WEB_SESSION_HOURS: integer(1, 24 * 30, 12),
};

type SurfaceEnv = EnvOf<typeof SURFACE_FIELDS>;

export interface SurfacesConfig {
  discord: { token: string; applicationId: string; guildId: string | undefined; apiUrl: string | undefined } | null;
  slack: {
    botToken: string;
    signingSecret: string | undefined;
    appToken: string | undefined;
    apiUrl: string | undefined;
    port: number;
  } | null;
  web: { port: number; host: string; auth: WebAuthConfig };
}

/**
 * Studio sign-in. "none" on a loopback address is the default; anywhere else it must be chosen
 * on purpose (isOnPurpose), since then anyone who reaches the studio can act as anyone.
 */
export type WebAuthConfig =
  | { mode: "none"; isOnPurpose: boolean }
  | {
      mode: "oidc";
      issuer: string;
      clientId: string;
      clientSecret: string | undefined;
      /** Where people open the studio; the redirect URL is <publicUrl>/auth/callback. Unset: the listening address. */
      publicUrl: string | undefined;
      cookieSecret: string;
      /** Claim naming the person for non-Slack providers (default sub): the id is oidc:<issuer host>:<claim>. */
      personClaim: string | undefined;
      scopes: string;
      sessionHours: number;
    };

export function surfacesOf(e: SurfaceEnv, problems: string[]): SurfacesConfig {
  const discordSet = [e.DISCORD_TOKEN, e.DISCORD_APPLICATION_ID].filter(Boolean).length;
  if (discordSet === 1) {
    problems.push(
      e.DISCORD_TOKEN
        ? "DISCORD_APPLICATION_ID: required with DISCORD_TOKEN (got nothing). Example: DISCORD_APPLICATION_ID=123456789012345678"
        : "DISCORD_TOKEN: required with DISCORD_APPLICATION_ID (got nothing). Example: DISCORD_TOKEN=<the bot token from the Developer Portal>",
    );
  }
  const discord =
    e.DISCORD_TOKEN && e.DISCORD_APPLICATION_ID
      ? { token: e.DISCORD_TOKEN, applicationId: e.DISCORD_APPLICATION_ID, guildId: e.DISCORD_GUILD_ID, apiUrl: e.DISCORD_API_URL }
      : null;

  if (e.SLACK_BOT_TOKEN && !e.SLACK_APP_TOKEN && !e.SLACK_SIGNING_SECRET) {
    problems.push(
      "SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN unless SLACK_APP_TOKEN selects Socket Mode (got neither). Example: SLACK_SIGNING_SECRET=<from Basic Information in the app settings>",
    );
  }
  const slack = e.SLACK_BOT_TOKEN
    ? {
        botToken: e.SLACK_BOT_TOKEN,
        signingSecret: e.SLACK_SIGNING_SECRET,
        appToken: e.SLACK_APP_TOKEN,
        apiUrl: e.SLACK_API_URL,
        port: e.SLACK_PORT,
      }
    : null;

  const webHost = e.GEMS_WEB_HOST ?? "127.0.0.1";
  const webAuth = webAuthOf(e, webHost, problems);
  return { discord, slack, web: { port: e.GEMS_WEB_PORT, host: webHost, auth: webAuth } };
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
const MIN_COOKIE_SECRET_CHARS = 32;

/** The studio's sign-in; a studio reachable from other machines without it is refused here, in one line. */
function webAuthOf(e: SurfaceEnv, host: string, problems: string[]): WebAuthConfig {
  if (e.GEMS_WEB_AUTH !== "oidc") {
    if (e.GEMS_WEB_AUTH === undefined && !LOOPBACK_HOSTS.has(host)) {
      problems.push(
        `GEMS_WEB_AUTH: the studio would listen on ${host}, which other machines can reach, without sign-in. Set GEMS_WEB_AUTH=oidc (with GEMS_WEB_OIDC_ISSUER, GEMS_WEB_OIDC_CLIENT_ID, GEMS_WEB_COOKIE_SECRET), or GEMS_WEB_AUTH=none to let anyone who reaches it act as anyone, or GEMS_WEB_HOST=127.0.0.1.`,
      );
    }
    return { mode: "none", isOnPurpose: e.GEMS_WEB_AUTH === "none" };
  }
  const missing = (variable: string, what: string) =>
    problems.push(`${variable}: required with GEMS_WEB_AUTH=oidc (${what}). Example: ${variable}=${SURFACE_EXAMPLES[variable] ?? ""}`);
  if (!e.GEMS_WEB_OIDC_ISSUER) missing("GEMS_WEB_OIDC_ISSUER", "the provider's issuer URL, where /.well-known/openid-configuration is");
  if (!e.GEMS_WEB_OIDC_CLIENT_ID) missing("GEMS_WEB_OIDC_CLIENT_ID", "the client id of the studio's app at the provider");
  if (!e.GEMS_WEB_COOKIE_SECRET) missing("GEMS_WEB_COOKIE_SECRET", "the key that signs session cookies");
  else if (e.GEMS_WEB_COOKIE_SECRET.length < MIN_COOKIE_SECRET_CHARS) {
    problems.push(
      `GEMS_WEB_COOKIE_SECRET: must be at least ${MIN_COOKIE_SECRET_CHARS} characters (got ${e.GEMS_WEB_COOKIE_SECRET.length}). Example: GEMS_WEB_COOKIE_SECRET=$(openssl rand -base64 32)`,
    );
  }
  if (!e.GEMS_WEB_PUBLIC_URL && !LOOPBACK_HOSTS.has(host)) {
    missing("GEMS_WEB_PUBLIC_URL", "the address people open, so the provider can send them back to <url>/auth/callback");
  }
  return {
    mode: "oidc",
    issuer: e.GEMS_WEB_OIDC_ISSUER ?? "",
    clientId: e.GEMS_WEB_OIDC_CLIENT_ID ?? "",
    clientSecret: e.GEMS_WEB_OIDC_CLIENT_SECRET,
    publicUrl: e.GEMS_WEB_PUBLIC_URL,
    cookieSecret: e.GEMS_WEB_COOKIE_SECRET ?? "",
    personClaim: e.GEMS_WEB_OIDC_PERSON_CLAIM,
    scopes: e.GEMS_WEB_OIDC_SCOPES ?? "openid profile email",
    sessionHours: e.GEMS_WEB_SESSION_HOURS,
  };
}
