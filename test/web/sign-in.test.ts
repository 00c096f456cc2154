/**
 * Studio sign-in against a fake OIDC provider on loopback, with the real openid-client: the
 * person is slack:<team>:<user> (or oidc:<issuer host>:<sub>), sessions are signed cookies,
 * someone else's job is read-only, admins may act on all, and cross-site POSTs are refused.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.ts";
import { createWebStudio } from "../../bots/web/index.ts";
import type { OidcConfig } from "../../bots/web/sign-in.ts";
import { startFakeOidcProvider, type FakeOidcProvider } from "../fakes/oidc-provider.ts";
import { cookieFrom, signIn, signInSteps } from "./sign-in-flow.ts";
import { HARD_PROMPT, call, startStudio, type StudioHarness } from "./studio-harness.ts";

const ADA = { sub: "U0ADA", name: "Ada", slackTeam: "T0TEAM" };
const BOB = { sub: "U0BOB", name: "Bob", slackTeam: "T0TEAM" };
const BOSS = { sub: "U0BOSS", name: "Boss", slackTeam: "T0TEAM" };
const COOKIE_SECRET = "a-cookie-secret-of-forty-characters-long";

let provider: FakeOidcProvider;
let harness: StudioHarness;
let base: string;

function oidcConfig(overrides: Partial<OidcConfig> = {}): OidcConfig {
  return {
    mode: "oidc",
    issuer: provider.issuer,
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    publicUrl: undefined,
    cookieSecret: COOKIE_SECRET,
    personClaim: undefined,
    scopes: "openid profile email",
    sessionHours: 12,
    ...overrides,
  };
}

beforeAll(async () => {
  provider = await startFakeOidcProvider();
  harness = await startStudio({ latencyMs: 5, auth: oidcConfig(), admins: ["slack:T0TEAM:U0BOSS"] });
  base = harness.url;
});

afterAll(async () => {
  await harness?.close();
  await provider?.close();
});

const as = (session: string, extra: Record<string, string> = {}) => ({ cookie: session, ...extra });

describe("signing in", () => {
  it("signs a Slack person in as slack:<team>:<user> with a code, PKCE, state and nonce", async () => {
    const steps = await signInSteps(base, provider, ADA);
    expect(steps.authorizeUrl.origin).toBe(provider.issuer);
    const q = steps.authorizeUrl.searchParams;
    expect(q.get("response_type")).toBe("code");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get("state")).toEqual(expect.any(String));
    expect(q.get("nonce")).toEqual(expect.any(String));
    expect(q.get("redirect_uri")).toBe(`${base}/auth/callback`);
    expect(steps.callback.status).toBe(302);
    expect(steps.callback.headers.get("location")).toBe("/");
    // The token request proved the PKCE verifier.
    const tokenRequest = provider.server.requests.filter((r) => r.path === "/token").at(-1);
    expect(new URLSearchParams(tokenRequest?.rawBody.toString()).get("code_verifier")).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    // Signed, HttpOnly, SameSite, with an expiry.
    expect(steps.sessionCookieHeader).toMatch(/; HttpOnly/);
    expect(steps.sessionCookieHeader).toMatch(/; SameSite=Lax/);
    expect(steps.sessionCookieHeader).toMatch(/; Max-Age=43200/);
    expect(steps.sessionCookieHeader).toMatch(/; Path=\//);
    const me = await call(base, "GET", "/api/me", undefined, as(steps.session ?? ""));
    expect(me.body).toEqual({ auth: "oidc", person: { id: "slack:T0TEAM:U0ADA", name: "Ada" }, isAdmin: false });
  });

  it("names a person from another provider oidc:<issuer host>:<sub>", async () => {
    const session = await signIn(base, provider, { sub: "00uMixedCase", name: "Grace", email: "grace@example.com" });
    const me = await call(base, "GET", "/api/me", undefined, as(session));
    expect(me.body.person).toEqual({ id: `oidc:${new URL(provider.issuer).host}:00uMixedCase`, name: "Grace" });
  });

  it("starts a job as the signed-in person, whatever name the body gives", async () => {
    const session = await signIn(base, provider, ADA);
    const started = await call(base, "POST", "/api/jobs", { prompt: "a red cube", name: "Mallory" }, as(session));
    expect(started.status).toBe(201);
    const status = await call(base, "GET", `/api/jobs/${started.body.jobId}`, undefined, as(session));
    expect(status.body.job.requester).toEqual({ id: "slack:T0TEAM:U0ADA", name: "Ada" });
    await harness.finished(started.body.jobId);
  });

  it("answers the API and the images 401 without a session, and still serves the page", async () => {
    for (const path of ["/api/jobs", "/api/info", "/api/events", `/images/${"a".repeat(64)}.png`, "/api/jobs/job1/iterations/1/image"]) {
      const answer = await call(base, "GET", path);
      expect(answer.status, path).toBe(401);
      expect(answer.body.error).toEqual({ code: "unauthorized", message: "Sign in first: open /auth/login (your session may have ended)." });
    }
    expect((await call(base, "POST", "/api/jobs", { prompt: "a cube" })).status).toBe(401);
    expect((await call(base, "GET", "/api/me")).body).toEqual({ auth: "oidc", person: null, isAdmin: false });
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("refuses a session cookie that was altered", async () => {
    const session = await signIn(base, provider, ADA);
    const [name, value = ""] = session.split("=");
    const payload = Buffer.from(decodeURIComponent(value).split(".")[0] ?? "", "base64url").toString();
    const forged = Buffer.from(payload.replace("U0ADA", "U0BOSS")).toString("base64url");
    const tampered = `${name}=${encodeURIComponent(`${forged}.${decodeURIComponent(value).split(".")[1]}`)}`;
    expect(payload).toContain("slack:T0TEAM:U0ADA");
    expect((await call(base, "GET", "/api/jobs", undefined, as(tampered))).status).toBe(401);
    expect((await call(base, "GET", "/api/me", undefined, as(tampered))).body.person).toBeNull();
  });

  it("ends a session after GEMS_WEB_SESSION_HOURS, whatever the browser keeps", async () => {
    let clock = Date.now();
    const timed = await startStudio({ auth: oidcConfig({ sessionHours: 2 }), now: () => clock });
    try {
      const session = await signIn(timed.url, provider, ADA);
      expect((await call(timed.url, "GET", "/api/jobs", undefined, as(session))).status).toBe(200);
      clock += 2 * 3_600_000 - 1_000;
      expect((await call(timed.url, "GET", "/api/jobs", undefined, as(session))).status).toBe(200);
      clock += 2_000;
      expect((await call(timed.url, "GET", "/api/jobs", undefined, as(session))).status).toBe(401);
    } finally {
      await timed.close();
    }
  });

  it("signs out: the session cookie is cleared", async () => {
    const session = await signIn(base, provider, ADA);
    const out = await fetch(`${base}/auth/logout`, { method: "POST", headers: as(session) });
    expect(out.status).toBe(200);
    expect(cookieFrom(out, "gems_session")?.header).toMatch(/^gems_session=;.*Expires=Thu, 01 Jan 1970/);
  });
});

describe("failed sign-ins", () => {
  it("a cancelled sign-in says what the provider answered and sets no session", async () => {
    provider.denyNext();
    const steps = await signInSteps(base, provider, ADA);
    expect(steps.callback.status).toBe(401);
    expect(steps.session).toBeNull();
    const body = (await steps.callback.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("sign-in-failed");
    expect(body.error.message).toBe("The sign-in provider refused: access_denied (The user cancelled the sign-in.). Open /auth/login to sign in again.");
  });

  it("a code used twice is refused as the provider's invalid_grant", async () => {
    const first = await signInSteps(base, provider, ADA);
    expect(first.session).not.toBeNull();
    const replay = await fetch(first.callbackUrl, { redirect: "manual", headers: { cookie: first.flowCookie } });
    expect(replay.status).toBe(401);
    expect(cookieFrom(replay, "gems_session")).toBeNull();
    expect(((await replay.json()) as { error: { message: string } }).error.message).toMatch(/^The sign-in provider did not accept the sign-in code: invalid_grant/);
  });

  it("a callback whose state is not the one sent is refused", async () => {
    provider.signInAs(ADA);
    const login = await fetch(`${base}/auth/login`, { redirect: "manual" });
    const authorize = await fetch(login.headers.get("location") ?? "", { redirect: "manual" });
    const callback = new URL(authorize.headers.get("location") ?? "");
    callback.searchParams.set("state", "someone-elses-state");
    const answer = await fetch(callback, { redirect: "manual", headers: { cookie: cookieFrom(login, "gems_sign_in")?.pair ?? "" } });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(cookieFrom(answer, "gems_session")).toBeNull();
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("sign-in-failed");
  });

  it("a callback without the sign-in cookie is refused", async () => {
    const steps = await signInSteps(base, provider, ADA);
    const answer = await fetch(steps.callbackUrl, { redirect: "manual" });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: { message: string } }).error.message).toMatch(/^This sign-in was not started here/);
  });

  it("an ID token not signed with a key in the provider's JWKS is refused", async () => {
    provider.signWithUnpublishedKey(true);
    try {
      const steps = await signInSteps(base, provider, BOSS);
      expect(steps.callback.status).toBe(502);
      expect(steps.session).toBeNull();
    } finally {
      provider.signWithUnpublishedKey(false);
    }
  });

  it("keeps the client secret out of the answer and the log when the provider echoes it", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const wrongSecret = "studio-side-client-secret-0123456789";
    const echoing = await startStudio({ auth: oidcConfig({ clientSecret: wrongSecret }), logger: createLogger("debug", sink) });
    provider.echoSecretInErrors(true);
    try {
      const steps = await signInSteps(echoing.url, provider, ADA);
      const text = await steps.callback.text();
      expect(steps.callback.status).toBe(401);
      expect(text).toContain("invalid_client");
      expect(text).not.toContain(wrongSecret);
      expect(lines.join("")).toContain("a sign-in failed");
      expect(lines.join("")).not.toContain(wrongSecret);
      expect(lines.join("")).not.toContain(COOKIE_SECRET);
    } finally {
      provider.echoSecretInErrors(false);
      await echoing.close();
    }
  });
});

describe("who may do what", () => {
  it("someone else's job is read-only: stop, pick, continue and feedback are refused with the service's words", async () => {
    const ada = await signIn(base, provider, ADA);
    const bob = await signIn(base, provider, BOB);
    const started = await call(base, "POST", "/api/jobs", { prompt: HARD_PROMPT, iterations: 10 }, as(ada));
    const jobId = started.body.jobId as string;
    await harness.waitForEvent((e) => e.jobId === jobId && e.type === "image.ready");
    const refused = async (path: string, body: unknown, message: string) => {
      const answer = await call(base, "POST", `/api/jobs/${jobId}/${path}`, body, as(bob));
      expect(answer.status, path).toBe(403);
      expect(answer.body.error).toEqual({ code: "forbidden", message });
    };
    await refused("stop", {}, "Only Ada or an admin can stop this job.");
    await refused("pick", { iteration: 1 }, "Only Ada or an admin can pick the result of this job.");
    await refused("feedback", { text: "make it blue" }, "Only Ada or an admin can give feedback on this job.");
    // Bob can still read it.
    expect((await call(base, "GET", `/api/jobs/${jobId}`, undefined, as(bob))).status).toBe(200);
    // Ada can steer her own job.
    expect((await call(base, "POST", `/api/jobs/${jobId}/feedback`, { text: "add a yellow star" }, as(ada))).status).toBe(200);
    await harness.finished(jobId);
    await refused("continue", { iterations: 1 }, "Only Ada or an admin can continue this job.");
  });

  it("anyone signed in may vote on anyone's job, as the person of the session (a name in the body changes nothing)", async () => {
    const ada = await signIn(base, provider, ADA);
    const bob = await signIn(base, provider, BOB);
    const started = await call(base, "POST", "/api/jobs", { prompt: "a red cube", iterations: 1 }, as(ada));
    const jobId = started.body.jobId as string;
    await harness.finished(jobId);
    expect((await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "up" }, as(bob))).body).toEqual({ votes: [{ n: 1, up: 1, down: 0 }] });
    expect((await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "up" }, as(bob))).body).toEqual({ votes: [{ n: 1, up: 1, down: 0 }] });
    expect((await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "up" }, as(ada))).body).toEqual({ votes: [{ n: 1, up: 2, down: 0 }] });
    // Bob's vote changes; no "Mallory" appears.
    expect((await call(base, "POST", `/api/jobs/${jobId}/vote`, { iteration: 1, vote: "down", name: "Mallory" }, as(bob))).body).toEqual({ votes: [{ n: 1, up: 1, down: 1 }] });
  });

  it("an admin from GEMS_ADMINS may act on anyone's job", async () => {
    const ada = await signIn(base, provider, ADA);
    const boss = await signIn(base, provider, BOSS);
    expect((await call(base, "GET", "/api/me", undefined, as(boss))).body.isAdmin).toBe(true);
    const started = await call(base, "POST", "/api/jobs", { prompt: HARD_PROMPT, iterations: 10 }, as(ada));
    const stopped = await call(base, "POST", `/api/jobs/${started.body.jobId}/stop`, {}, as(boss));
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
  });

  it("refuses a POST from another site's page (Origin or Sec-Fetch-Site), and takes one from the studio's own", async () => {
    const ada = await signIn(base, provider, ADA);
    const body = { prompt: "a red cube" };
    const evil = await call(base, "POST", "/api/jobs", body, as(ada, { origin: "http://evil.example" }));
    expect(evil.status).toBe(403);
    expect(evil.body.error.message).toMatch(/^This request came from another site \(http:\/\/evil\.example\)/);
    expect((await call(base, "POST", "/api/jobs", body, as(ada, { "sec-fetch-site": "cross-site" }))).status).toBe(403);
    expect((await fetch(`${base}/auth/logout`, { method: "POST", headers: as(ada, { origin: "http://evil.example" }) })).status).toBe(403);
    const own = await call(base, "POST", "/api/jobs", body, as(ada, { origin: base, "sec-fetch-site": "same-origin" }));
    expect(own.status).toBe(201);
    await harness.finished(own.body.jobId);
  });
});

describe("starting without sign-in", () => {
  it("refuses to listen on a non-loopback address without sign-in unless GEMS_WEB_AUTH=none says so", async () => {
    // A job service of its own: one studio subscribes per service.
    const other = await startStudio();
    await other.studio.stop();
    const deps = { jobs: other.jobs, images: other.images, skills: { manifest: () => [] } as never, logger: createLogger("silent") };
    const open = createWebStudio({ ...deps, config: { port: 0, host: "0.0.0.0" } });
    await expect(open.start()).rejects.toThrow(
      /^The web studio will not listen on 0\.0\.0\.0 without sign-in: anyone who reaches it could act as anyone\. Set GEMS_WEB_AUTH=oidc/,
    );
    const onPurpose = createWebStudio({ ...deps, config: { port: 0, host: "0.0.0.0", auth: { mode: "none", isOnPurpose: true } } });
    const { url } = await onPurpose.start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await onPurpose.stop();
    await other.close();
  });

  it("stops start-up with one line when the provider's discovery document cannot be read", async () => {
    const studio = createWebStudio({
      jobs: harness.jobs,
      images: harness.images,
      skills: { manifest: () => [] } as never,
      logger: createLogger("silent"),
      config: { port: 0, host: "127.0.0.1", auth: oidcConfig({ issuer: `${provider.issuer}/no-such-realm` }) },
    });
    await expect(studio.start()).rejects.toThrow(/^The studio could not read the sign-in provider at http:\/\/127\.0\.0\.1:\d+\/no-such-realm .*Check GEMS_WEB_OIDC_ISSUER/);
  });
});
