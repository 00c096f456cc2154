/**
 * Studio sign-in with OpenID Connect (openid-client): authorization code with PKCE, state and
 * nonce, and the ID token's signature checked against the provider's JWKS. The signed-in person
 * lives in a signed, HttpOnly, SameSite=Lax cookie; nothing is kept on the server, so a restart
 * or a second studio behind the same cookie secret keeps everyone signed in.
 */
import cookie from "@fastify/cookie";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as oidc from "openid-client";
import type { Logger } from "pino";
import { GemsError, describeError } from "../../core/errors.ts";
import type { Person } from "../../core/jobs/types.ts";
import { redactSecrets, rememberSecrets } from "../../core/secrets.ts";
import { HttpError, sendJson } from "./http-io.ts";
import { personFromClaims } from "./person.ts";

/** The same shape as config/surfaces.ts WebAuthConfig (bots/web does not import config; bots/server.ts passes one as the other, so tsc keeps them in step). */
export type WebAuthConfig =
  | { mode: "none"; isOnPurpose: boolean }
  | {
      mode: "oidc";
      issuer: string;
      clientId: string;
      clientSecret: string | undefined;
      publicUrl: string | undefined;
      cookieSecret: string;
      personClaim: string | undefined;
      scopes: string;
      sessionHours: number;
    };

export type OidcConfig = Extract<WebAuthConfig, { mode: "oidc" }>;

export const SESSION_COOKIE = "gems_session";
/** The PKCE verifier, state and nonce between /auth/login and /auth/callback. */
const FLOW_COOKIE = "gems_sign_in";
const FLOW_MAX_AGE_SECONDS = 10 * 60;

interface Session {
  id: string;
  name: string;
  /** Expiry in ms since the epoch; checked here, not only by the browser's Max-Age. */
  exp: number;
}

interface Flow {
  verifier: string;
  state: string;
  nonce: string;
}

export interface SignIn {
  /** Reads the provider's discovery document; a bad issuer stops start-up with one line. */
  discover(): Promise<void>;
  /** Registers @fastify/cookie and /auth/login, /auth/callback and /auth/logout. */
  register(app: FastifyInstance, publicUrl: () => string): Promise<void>;
  personOf(req: FastifyRequest): Person | null;
}

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");

function decode<T>(text: string): T | null {
  try {
    return JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as T;
  } catch {
    return null;
  }
}

export function createOidcSignIn(config: OidcConfig, logger: Logger, now: () => number = Date.now): SignIn {
  // Also when built without loadConfig (tests, embedders): a provider may echo the secret back.
  rememberSecrets(config.clientSecret, config.cookieSecret);
  let client: oidc.Configuration | undefined;
  const log = logger.child({ component: "sign-in" });

  function readSigned<T>(req: FastifyRequest, name: string): T | null {
    const raw = req.cookies[name];
    if (!raw) return null;
    const unsigned = req.unsignCookie(raw);
    return unsigned.valid && unsigned.value !== null ? decode<T>(unsigned.value) : null;
  }

  function cookieOptions(publicUrl: string, maxAgeSeconds: number, path = "/") {
    // Lax, not Strict: the provider's redirect back to /auth/callback is a cross-site navigation.
    return { path, httpOnly: true, sameSite: "lax" as const, secure: publicUrl.startsWith("https:"), signed: true, maxAge: maxAgeSeconds };
  }

  function signInFailed(status: number, message: string): HttpError {
    return new HttpError(status, "sign-in-failed", `${redactSecrets(message)} Open /auth/login to sign in again.`);
  }

  return {
    async discover() {
      const issuer = new URL(config.issuer);
      // Plain http only for a provider on this machine (a test or a local Keycloak).
      const isLocal = ["127.0.0.1", "localhost", "[::1]"].includes(issuer.hostname);
      try {
        client = await oidc.discovery(issuer, config.clientId, config.clientSecret, undefined, {
          execute: [oidc.enableNonRepudiationChecks, ...(isLocal && issuer.protocol === "http:" ? [oidc.allowInsecureRequests] : [])],
        });
      } catch (error) {
        throw new GemsError(
          redactSecrets(
            `The studio could not read the sign-in provider at ${config.issuer} (${describeError(error)}). Check GEMS_WEB_OIDC_ISSUER: ${config.issuer}/.well-known/openid-configuration must answer.`,
          ),
          "config",
          { cause: error },
        );
      }
    },

    async register(app, publicUrl) {
      await app.register(cookie, { secret: config.cookieSecret });
      const redirectUri = () => `${publicUrl()}/auth/callback`;

      app.get("/auth/login", async (_req, res: FastifyReply) => {
        if (!client) throw new HttpError(503, "unavailable", "Sign-in is not ready yet; try again in a moment.");
        const flow: Flow = { verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce() };
        const target = oidc.buildAuthorizationUrl(client, {
          redirect_uri: redirectUri(),
          scope: config.scopes,
          code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
          code_challenge_method: "S256",
          state: flow.state,
          nonce: flow.nonce,
        });
        res.setCookie(FLOW_COOKIE, encode(flow), cookieOptions(publicUrl(), FLOW_MAX_AGE_SECONDS, "/auth"));
        return res.code(302).header("cache-control", "no-store").redirect(target.href);
      });

      app.get("/auth/callback", async (req, res) => {
        if (!client) throw new HttpError(503, "unavailable", "Sign-in is not ready yet; try again in a moment.");
        const flow = readSigned<Flow>(req, FLOW_COOKIE);
        if (!flow) throw signInFailed(400, "This sign-in was not started here, or took longer than 10 minutes.");
        res.clearCookie(FLOW_COOKIE, { path: "/auth" });
        // The redirect URI as sent, with the provider's query: a proxy may have changed Host or path.
        const currentUrl = new URL(redirectUri());
        currentUrl.search = new URL(req.url, "http://studio.local").search;
        let claims: oidc.IDToken | undefined;
        try {
          const tokens = await oidc.authorizationCodeGrant(client, currentUrl, {
            pkceCodeVerifier: flow.verifier,
            expectedState: flow.state,
            expectedNonce: flow.nonce,
            idTokenExpected: true,
          });
          claims = tokens.claims();
        } catch (error) {
          log.warn({ err: error }, "a sign-in failed");
          if (error instanceof oidc.AuthorizationResponseError) {
            throw signInFailed(401, `The sign-in provider refused: ${error.error}${error.error_description ? ` (${error.error_description})` : ""}.`);
          }
          if (error instanceof oidc.ResponseBodyError) {
            throw signInFailed(401, `The sign-in provider did not accept the sign-in code: ${error.error}${error.error_description ? ` (${error.error_description})` : ""}.`);
          }
          throw signInFailed(502, `The sign-in could not be completed (${describeError(error)}).`);
        }
        if (!claims) throw signInFailed(502, "The sign-in provider sent no ID token.");
        const person = personFromClaims(claims, config.issuer, config.personClaim);
        if (!person) throw signInFailed(403, `The sign-in provider's ID token has no "${config.personClaim ?? "sub"}" claim to name you by.`);
        const session: Session = { ...person, exp: now() + config.sessionHours * 3_600_000 };
        res.setCookie(SESSION_COOKIE, encode(session), cookieOptions(publicUrl(), config.sessionHours * 3600));
        log.info({ person: person.id }, "signed in");
        return res.code(302).header("cache-control", "no-store").redirect("/");
      });

      app.post("/auth/logout", async (req, res) => {
        res.clearCookie(SESSION_COOKIE, { path: "/" });
        sendJson(req, res, 200, { isSignedOut: true });
        return res;
      });
    },

    personOf(req) {
      const session = readSigned<Session>(req, SESSION_COOKIE);
      if (!session || typeof session.id !== "string" || typeof session.name !== "string" || typeof session.exp !== "number") return null;
      if (session.exp <= now()) return null;
      return { id: session.id, name: session.name };
    },
  };
}
