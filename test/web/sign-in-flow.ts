/**
 * A browser's part of the OIDC redirects, done with fetch so API tests can sign in: the studio's
 * /auth/login, the provider's /authorize, back to /auth/callback, each with its cookies.
 */
import type { FakeOidcProvider, ProviderUser } from "../fakes/oidc-provider.ts";

export interface SignInSteps {
  /** The provider's /authorize URL the studio sent the browser to. */
  authorizeUrl: URL;
  /** The studio's callback URL the provider sent the browser back to. */
  callbackUrl: string;
  /** The signed flow cookie (name=value) the studio set at /auth/login. */
  flowCookie: string;
  callback: Response;
  /** name=value of the session cookie, or null when the callback set none. */
  session: string | null;
  sessionCookieHeader: string | null;
}

export function cookieFrom(response: Response, name: string): { pair: string; header: string } | null {
  const header = response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  if (!header) return null;
  return { pair: header.split(";")[0] as string, header };
}

export async function signInSteps(studioUrl: string, provider: FakeOidcProvider, user: ProviderUser | null): Promise<SignInSteps> {
  provider.signInAs(user);
  const login = await fetch(`${studioUrl}/auth/login`, { redirect: "manual" });
  if (login.status !== 302) throw new Error(`/auth/login answered ${login.status}`);
  const authorizeUrl = new URL(login.headers.get("location") ?? "");
  const flowCookie = cookieFrom(login, "gems_sign_in")?.pair ?? "";
  const authorize = await fetch(authorizeUrl, { redirect: "manual" });
  const callbackUrl = authorize.headers.get("location") ?? "";
  if (authorize.status !== 302 || !callbackUrl) throw new Error(`/authorize answered ${authorize.status}`);
  const callback = await fetch(callbackUrl, { redirect: "manual", headers: { cookie: flowCookie } });
  const session = cookieFrom(callback, "gems_session");
  return { authorizeUrl, callbackUrl, flowCookie, callback, session: session?.pair ?? null, sessionCookieHeader: session?.header ?? null };
}

export async function signIn(studioUrl: string, provider: FakeOidcProvider, user: ProviderUser): Promise<string> {
  const steps = await signInSteps(studioUrl, provider, user);
  if (!steps.session) throw new Error(`sign-in failed: ${steps.callback.status} ${await steps.callback.text()}`);
  return steps.session;
}
