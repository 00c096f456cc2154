/**
 * A fake OpenID Connect provider on 127.0.0.1, speaking the wire format of a real one (OpenID
 * Connect Core and Discovery 1.0, RFC 6749, RFC 7636): a discovery document, an authorization
 * endpoint that sends the browser back with a code (or an error) and the state, a token endpoint
 * that authenticates the client, checks the code, redirect URI and PKCE verifier and answers with
 * an RS256 ID token, and a JWKS. Errors are answered as providers do: `invalid_client` (401),
 * `invalid_grant`, `unsupported_grant_type`, `invalid_request` (400), and `access_denied` or
 * `login_required` on the redirect. The signing key is generated at start with node:crypto.
 *
 * The person who "is signed in at the provider" is set with `signInAs`; authorize then
 * answers at once, like a provider whose session cookie is already there.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { startLoopbackServer, type FakeReply, type LoopbackServer, type RecordedRequest } from "./loopback-server.ts";

export interface ProviderUser {
  sub: string;
  name: string;
  email?: string;
  /** Set for a Slack-like provider: the ID token carries Slack's team and user claims. */
  slackTeam?: string;
}

export interface FakeOidcProvider {
  /** The issuer identifier (http://127.0.0.1:<port>), no trailing slash. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  server: LoopbackServer;
  signInAs(user: ProviderUser | null): void;
  /** The next authorization answers ?error=access_denied, as when the person clicks "Cancel". */
  denyNext(): void;
  /** Sign ID tokens with a key the JWKS does not publish (a forged token). */
  signWithUnpublishedKey(isOn: boolean): void;
  /** Echo the client secret it was sent in invalid_client errors, as careless servers do. */
  echoSecretInErrors(isOn: boolean): void;
  /** Codes handed out, for tests that replay one. */
  issuedCodes: string[];
  close(): Promise<void>;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  nonce: string | undefined;
  user: ProviderUser;
  expiresAt: number;
  isUsed: boolean;
}

const b64url = (value: Buffer | string) => Buffer.from(value).toString("base64url");

function oauthError(status: number, error: string, description: string, headers: Record<string, string> = {}): FakeReply {
  return { status, headers: { "content-type": "application/json", "cache-control": "no-store", ...headers }, json: { error, error_description: description } };
}

export async function startFakeOidcProvider(options: { clientId?: string; clientSecret?: string; redirectUris?: (uri: string) => boolean } = {}): Promise<FakeOidcProvider> {
  const clientId = options.clientId ?? "gems-studio";
  const clientSecret = options.clientSecret ?? `fake-oidc-secret-${randomBytes(12).toString("hex")}`;
  // Real providers want the exact registered URI; the studio's port is only known at start.
  const isRegistered = options.redirectUris ?? ((uri: string) => /^http:\/\/127\.0\.0\.1:\d+\/auth\/callback$/.test(uri));
  const published = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const unpublished = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = randomBytes(8).toString("hex");
  const grants = new Map<string, Grant>();
  const issuedCodes: string[] = [];
  let user: ProviderUser | null = null;
  let isDenyingNext = false;
  let isForging = false;
  let isEchoing = false;
  let issuer = "";

  function idToken(grant: Grant, accessToken: string): string {
    const now = Math.floor(Date.now() / 1000);
    const atHash = b64url(createHash("sha256").update(accessToken).digest().subarray(0, 16));
    const claims: Record<string, unknown> = {
      iss: issuer,
      sub: grant.user.sub,
      aud: grant.clientId,
      exp: now + 300,
      iat: now,
      auth_time: now,
      at_hash: atHash,
      name: grant.user.name,
      ...(grant.nonce ? { nonce: grant.nonce } : {}),
      ...(grant.user.email ? { email: grant.user.email, email_verified: true } : {}),
      ...(grant.user.slackTeam ? { "https://slack.com/team_id": grant.user.slackTeam, "https://slack.com/user_id": grant.user.sub } : {}),
    };
    const input = `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }))}.${b64url(JSON.stringify(claims))}`;
    const key: KeyObject = isForging ? unpublished.privateKey : published.privateKey;
    return `${input}.${b64url(sign("sha256", Buffer.from(input), key))}`;
  }

  function authorize(req: RecordedRequest): FakeReply {
    const q = req.query;
    const redirectUri = q.get("redirect_uri") ?? "";
    // An unknown client or redirect URI is shown to the person, never redirected (RFC 6749 4.1.2.1).
    if (q.get("client_id") !== clientId) return { status: 400, headers: { "content-type": "text/html" }, body: "<h1>Unknown client_id</h1>" };
    if (!isRegistered(redirectUri)) return { status: 400, headers: { "content-type": "text/html" }, body: "<h1>redirect_uri is not registered</h1>" };
    const back = (params: Record<string, string>): FakeReply => {
      const target = new URL(redirectUri);
      for (const [key, value] of Object.entries(params)) target.searchParams.set(key, value);
      const state = q.get("state");
      if (state !== null) target.searchParams.set("state", state);
      return { status: 302, headers: { location: target.href }, body: "" };
    };
    if (q.get("response_type") !== "code") return back({ error: "unsupported_response_type", error_description: "Only response_type=code is supported." });
    if (!(q.get("scope") ?? "").split(" ").includes("openid")) return back({ error: "invalid_scope", error_description: "The openid scope is required." });
    if (q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) {
      return back({ error: "invalid_request", error_description: "PKCE with code_challenge_method=S256 is required." });
    }
    if (isDenyingNext) {
      isDenyingNext = false;
      return back({ error: "access_denied", error_description: "The user cancelled the sign-in." });
    }
    if (!user) return back({ error: "login_required", error_description: "No one is signed in at the provider." });
    const code = randomBytes(16).toString("base64url");
    grants.set(code, {
      clientId,
      redirectUri,
      codeChallenge: q.get("code_challenge") ?? "",
      nonce: q.get("nonce") ?? undefined,
      user,
      expiresAt: Date.now() + 60_000,
      isUsed: false,
    });
    issuedCodes.push(code);
    return back({ code });
  }

  function token(req: RecordedRequest): FakeReply {
    if (!String(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return oauthError(400, "invalid_request", "The body must be application/x-www-form-urlencoded.");
    }
    const form = new URLSearchParams(req.rawBody.toString("utf8"));
    // client_secret_basic (form-encoded id and secret in Basic) or client_secret_post.
    let id = form.get("client_id");
    let secret = form.get("client_secret");
    const basic = /^Basic (.+)$/.exec(String(req.headers.authorization ?? ""));
    if (basic?.[1]) {
      const [user64 = "", pass64 = ""] = Buffer.from(basic[1], "base64").toString("utf8").split(":");
      id = decodeURIComponent(user64.replace(/\+/g, " "));
      secret = decodeURIComponent(pass64.replace(/\+/g, " "));
    }
    if (id !== clientId || secret !== clientSecret) {
      const echoed = isEchoing ? ` (got client_secret "${secret ?? ""}")` : "";
      return oauthError(401, "invalid_client", `Client authentication failed${echoed}.`, basic ? { "www-authenticate": 'Basic realm="fake-oidc"' } : {});
    }
    if (form.get("grant_type") !== "authorization_code") return oauthError(400, "unsupported_grant_type", "Only authorization_code is supported.");
    const code = form.get("code") ?? "";
    const grant = grants.get(code);
    if (!grant || grant.isUsed || grant.expiresAt < Date.now()) return oauthError(400, "invalid_grant", "The authorization code is invalid, expired or already used.");
    grant.isUsed = true;
    if (form.get("redirect_uri") !== grant.redirectUri) return oauthError(400, "invalid_grant", "redirect_uri does not match the authorization request.");
    const verifier = form.get("code_verifier") ?? "";
    if (b64url(createHash("sha256").update(verifier).digest()) !== grant.codeChallenge) return oauthError(400, "invalid_grant", "PKCE verification failed.");
    const accessToken = randomBytes(24).toString("base64url");
    return {
      status: 200,
      headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" },
      json: { access_token: accessToken, token_type: "Bearer", expires_in: 3600, scope: "openid profile email", id_token: idToken(grant, accessToken) },
    };
  }

  const server = await startLoopbackServer((req) => {
    if (req.method === "GET" && req.path === "/.well-known/openid-configuration") {
      return {
        json: {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ["code"],
          response_modes_supported: ["query"],
          grant_types_supported: ["authorization_code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
          scopes_supported: ["openid", "profile", "email"],
          token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
          code_challenge_methods_supported: ["S256"],
          claims_supported: ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "email"],
        },
      };
    }
    if (req.method === "GET" && req.path === "/jwks") {
      const jwk = published.publicKey.export({ format: "jwk" });
      return { json: { keys: [{ ...jwk, kid, alg: "RS256", use: "sig" }] } };
    }
    if (req.method === "GET" && req.path === "/authorize") return authorize(req);
    if (req.method === "POST" && req.path === "/token") return token(req);
    return { status: 404, json: { error: "not_found" } };
  });
  issuer = server.origin;

  return {
    issuer,
    clientId,
    clientSecret,
    server,
    issuedCodes,
    signInAs(next) {
      user = next;
    },
    denyNext() {
      isDenyingNext = true;
    },
    signWithUnpublishedKey(isOn) {
      isForging = isOn;
    },
    echoSecretInErrors(isOn) {
      isEchoing = isOn;
    },
    close: () => server.close(),
  };
}
