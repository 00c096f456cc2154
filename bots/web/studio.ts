/**
 * The local web studio: one Fastify server for the page, its JSON API, the event streams,
 * stored images, /healthz and /metrics. It renders job events and turns clicks into job-service
 * calls, like any other surface; it never touches a model.
 */
import type { UsageAccess } from "../../core/jobs/usage-ledger.ts";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { GemsError, describeError } from "../../core/errors.ts";
import type { JobService } from "../../core/jobs/types.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import type { TeamSkillsService } from "../../core/jobs/team-skills-service.ts";
import { apiRoutes } from "./api-routes.ts";
import { MAX_REFERENCE_BYTES } from "../../core/images/reference-images.ts";
import { createEventStreams } from "./event-streams.ts";
import { BASE_HEADERS, HttpError, parseJsonText, sendError, tooLarge, unsupportedMediaType } from "./http-io.ts";
import { WEB_LIMITS } from "./limits.ts";
import { registerRoutes } from "./router.ts";
import { createOidcSignIn, type SignIn, type WebAuthConfig } from "./sign-in.ts";
import { siteRoutes } from "./site-routes.ts";
import { loadStaticFiles } from "./static-files.ts";

/** An image upload is read to its end up to here (a polite 413 past the 20 MB limit); past it the connection is dropped. */
const IMAGE_BODY_ABORT_BYTES = 2 * MAX_REFERENCE_BYTES;
import { createStudioMetrics, type ModelServerStats } from "./studio-metrics.ts";

export interface WebStudioDeps {
  /** Started by the caller; the studio subscribes to it but never starts or closes it. */
  jobs: JobService;
  images: ImageStore;
  skills: SkillLibrary;
  /** `auth` defaults to none, which is refused on a non-loopback host unless chosen on purpose. */
  config: { port: number; host: string; auth?: WebAuthConfig };
  /** GEMS_ADMINS: shown to the page as isAdmin; the job service enforces them. */
  admins?: readonly string[];
  /** Team skills: numbers on GET /api/skills, POST /api/skills (admins), /api/me/skill-default. */
  team?: TeamSkillsService;
  /** Milliseconds since the epoch, for session expiry; tests inject one. */
  now?: () => number;
  logger: Logger;
  /** Shown on the page, e.g. "simulated MLLM and generator". */
  modelsDescription?: string;
  /** Per-server numbers of pooled models, for /metrics. */
  modelServers?: () => ModelServerStats[];
  /** Scaled out: this process's role and instance, on /healthz and on every /metrics sample. */
  processLabels?: { role: string; instance: string };
  /** The usage ledger behind /api/usage and the usage page, and who sees the team's. */
  usage?: UsageAccess;
}

export interface WebStudio {
  /** Listens (port 0 picks a free one) and resolves with the address to open. */
  start(): Promise<{ url: string }>;
  /** Ends the event streams and closes the server; the job service keeps running. */
  stop(): Promise<void>;
}

/** The surface name on web jobs' SurfaceRef and on the studio's subscription. */
export const WEB_SURFACE = "web";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

export function createWebStudio(deps: WebStudioDeps): WebStudio {
  const log = deps.logger.child({ surface: WEB_SURFACE });
  const streams = createEventStreams(deps.jobs, log);
  const metrics = createStudioMetrics(deps.jobs, deps.modelServers, deps.processLabels);
  let app: FastifyInstance | undefined;
  let unsubscribe: (() => void) | undefined;
  // Bound to loopback, the studio also refuses other Host names: otherwise a web page whose
  // domain is re-pointed at 127.0.0.1 (DNS rebinding) could read it as same-origin.
  const isLoopbackOnly = LOOPBACK.has(deps.config.host);
  const auth: WebAuthConfig = deps.config.auth ?? { mode: "none", isOnPurpose: false };
  const signIn: SignIn | null = auth.mode === "oidc" ? createOidcSignIn(auth, log, deps.now) : null;
  /** The origin people open; set once listening (the port may be 0 until then). */
  let publicUrl = auth.mode === "oidc" && auth.publicUrl ? auth.publicUrl.replace(/\/+$/, "") : "";

  /** Every error becomes {error: {code, message}}; Fastify's own (body parsing, limits) get the studio's words. */
  function answerError(error: unknown, req: FastifyRequest, res: FastifyReply): void {
    if (res.raw.headersSent || res.sent) {
      log.warn({ err: error, url: req.url }, "a response failed after it started");
      res.raw.destroy();
      return;
    }
    const known = toHttpError(error);
    if (known) {
      sendError(req, res, known);
      return;
    }
    log.error({ err: error, method: req.method, url: req.url }, "a request failed");
    sendError(req, res, new HttpError(500, "internal", "Something went wrong in the studio; the server log has the details."));
  }

  async function build(): Promise<FastifyInstance> {
    const files = await loadStaticFiles();
    const server = Fastify({
      // pino-native: Fastify logs through the process's own logger. Request lines would be
      // one per image and event stream, so only failures are logged (answerError).
      loggerInstance: log,
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: WEB_LIMITS.bodyMaxBytes,
      // Keep-alive sockets and event streams would hold close() open until they time out.
      forceCloseConnections: true,
      // A malformed percent-escape in the path cannot name anything the studio serves.
      frameworkErrors: (error, req, res) => {
        if (error.code === "FST_ERR_BAD_URL") {
          sendError(req, res, new HttpError(404, "not-found", "Nothing is served at that address; its path is not valid URL encoding."));
          return;
        }
        answerError(error, req, res);
      },
    }) as unknown as FastifyInstance; // typed with pino's Logger; the studio needs only the base type

    // Only JSON bodies are read; any other type is a 415 (the CSRF guard in http-io.ts).
    server.removeAllContentTypeParsers();
    server.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
      try {
        done(null, parseJsonText(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
    // Reference images (POST /api/images) come as their own bytes. Not CORS-safelisted types, so
    // another site's page cannot send them without a preflight, which is never granted. The
    // parser reads past the 20 MB image limit (to a hard stop) so the route can say how large.
    server.addContentTypeParser(
      ["image/png", "image/jpeg", "image/webp", "application/octet-stream"],
      { parseAs: "buffer", bodyLimit: IMAGE_BODY_ABORT_BYTES },
      (_req, body, done) => done(null, new Uint8Array(body as Buffer)),
    );
    // Before the hooks below, so they see the parsed cookies.
    await signIn?.register(server, () => publicUrl);
    server.addHook("onRequest", async (req, res) => {
      const rawUrl = req.raw.url ?? "";
      if (!rawUrl.startsWith("/")) throw new HttpError(400, "input", "The request target must be a path.");
      if (isLoopbackOnly && !isLoopbackHost(req.headers.host)) {
        throw new HttpError(403, "forbidden", "The studio answers only at localhost or 127.0.0.1.");
      }
      // Past this size the body is not drained for a polite 413: the connection is dropped.
      const declared = Number(req.headers["content-length"] ?? Number.NaN);
      const abortAt = req.url === "/api/images" ? IMAGE_BODY_ABORT_BYTES : WEB_LIMITS.bodyAbortBytes;
      if (Number.isFinite(declared) && declared > abortAt) {
        res.hijack();
        req.raw.destroy();
        return;
      }
      if (req.method === "POST") refuseCrossSite(req, publicUrl);
      if (signIn && needsSignIn(req.url) && !signIn.personOf(req)) {
        throw new HttpError(401, "unauthorized", "Sign in first: open /auth/login (your session may have ended).");
      }
    });
    server.addHook("onSend", async (_req, res, payload) => {
      res.headers(BASE_HEADERS);
      return payload;
    });
    server.setErrorHandler((error, req, res) => answerError(error, req, res));
    server.setNotFoundHandler((req, res) => {
      const path = new URL(`http://studio.local${req.url}`).pathname;
      sendError(req, res, new HttpError(404, "not-found", `Nothing is served at ${path}.`));
    });
    registerRoutes(
      server,
      [
        ...apiRoutes({
          jobs: deps.jobs,
          skills: deps.skills,
          streams,
          modelsDescription: deps.modelsDescription,
          images: deps.images,
          authMode: auth.mode,
          admins: deps.admins ?? [],
          usage: deps.usage,
          team: deps.team,
        }),
        ...siteRoutes({
          jobs: deps.jobs,
          images: deps.images,
          metrics,
          files,
          sseClients: () => streams.clientCount(),
          startedAt: Date.now(),
          ...(deps.processLabels ? { processLabels: deps.processLabels } : {}),
        }),
      ],
      (req) => signIn?.personOf(req) ?? null,
    );
    return server;
  }

  return {
    async start() {
      if (app) throw new Error("The web studio is already started.");
      if (auth.mode === "none" && !auth.isOnPurpose && !isLoopbackOnly) {
        throw new GemsError(
          `The web studio will not listen on ${deps.config.host} without sign-in: anyone who reaches it could act as anyone. Set GEMS_WEB_AUTH=oidc (see "Studio sign-in" in the README), or GEMS_WEB_AUTH=none on purpose, or GEMS_WEB_HOST=127.0.0.1.`,
          "config",
        );
      }
      await signIn?.discover();
      const server = await build();
      app = server;
      // Every job, not only web ones: the studio is where people browse all trajectories.
      // The handler never throws, so the service never holds events back for the studio.
      unsubscribe = deps.jobs.subscribe(
        WEB_SURFACE,
        (event) => {
          metrics.observe(event);
          streams.publish(event.jobId);
        },
        { isAllJobs: true },
      );
      let port: number;
      try {
        await server.listen({ port: deps.config.port, host: deps.config.host });
        port = (server.server.address() as AddressInfo).port;
      } catch (error) {
        unsubscribe();
        unsubscribe = undefined;
        app = undefined;
        await server.close().catch(() => undefined);
        throw new GemsError(
          `The web studio could not listen on ${deps.config.host}:${deps.config.port} (${describeError(error)}). Set GEMS_WEB_PORT to a free port, e.g. GEMS_WEB_PORT=8788.`,
          "config",
          { cause: error },
        );
      }
      server.server.on("error", (error) => log.error({ err: error }, "the web studio's server failed"));
      const url = `http://${displayHost(deps.config.host)}:${port}/`;
      if (publicUrl === "") publicUrl = url.replace(/\/$/, "");
      log.info({ url }, "web studio listening");
      return { url };
    },

    async stop() {
      unsubscribe?.();
      unsubscribe = undefined;
      streams.closeAll();
      const current = app;
      app = undefined;
      if (!current) return;
      await current.close();
    },
  };
}

/** With sign-in, the API and the images need a session; the page, /auth, /healthz and /metrics do not. */
function needsSignIn(url: string): boolean {
  return (url.startsWith("/api/") && !/^\/api\/me(\?|$)/.test(url)) || url.startsWith("/images/");
}

/**
 * CSRF guard for every POST, on top of SameSite cookies and the JSON-only bodies: a browser
 * names the page that sent a request (Origin, Sec-Fetch-Site), and a page on another site is
 * refused. Clients that send neither (curl, scripts) are not browsers a cookie rides along with.
 */
function refuseCrossSite(req: FastifyRequest, publicUrl: string): void {
  const origin = req.headers.origin;
  const site = req.headers["sec-fetch-site"];
  const own = new Set([publicUrl ? new URL(publicUrl).origin : "", `http://${req.headers.host ?? ""}`, `https://${req.headers.host ?? ""}`]);
  const isForeignOrigin = typeof origin === "string" && !own.has(origin);
  const isForeignSite = site === "cross-site" || site === "same-site";
  if (isForeignOrigin || isForeignSite) {
    throw new HttpError(403, "forbidden", `This request came from another site (${typeof origin === "string" ? origin : site}); the studio accepts changes only from its own page.`);
  }
}

/** Fastify's own errors (content type, body size, parsing) in the studio's words; null for a bug. */
function toHttpError(error: unknown): HttpError | null {
  if (error instanceof HttpError) return error;
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return unsupportedMediaType();
  if (fastifyError.code === "FST_ERR_CTP_BODY_TOO_LARGE") return tooLarge();
  const status = fastifyError.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new HttpError(status, "input", `The request could not be read (${fastifyError.message ?? "malformed"}).`);
  }
  return null;
}

function isLoopbackHost(host: string | undefined): boolean {
  // HTTP/1.0 clients may send no Host; they are not browsers, so rebinding does not apply.
  if (host === undefined) return true;
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : (host.split(":")[0] ?? "");
  return LOOPBACK.has(name.toLowerCase());
}

/** The address a person types: a wildcard bind is still opened through localhost. */
function displayHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
