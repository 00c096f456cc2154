/**
 * The local web studio: one node:http server for the page, its JSON API, the event streams,
 * stored images, /healthz and /metrics. It renders job events and turns clicks into job-service
 * calls, like any other surface; it never touches a model.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { GemsError, describeError } from "../../core/errors.ts";
import type { JobService } from "../../core/jobs/types.ts";
import type { ImageStore } from "../../core/memory/stores.ts";
import type { SkillLibrary } from "../../core/skills/types.ts";
import { apiRoutes } from "./api-routes.ts";
import { createEventStreams } from "./event-streams.ts";
import { HttpError, sendError } from "./http-io.ts";
import { dispatch, type Route } from "./router.ts";
import { siteRoutes } from "./site-routes.ts";
import { loadStaticFiles } from "./static-files.ts";
import { createStudioMetrics, type ModelServerStats } from "./studio-metrics.ts";

export interface WebStudioDeps {
  /** Started by the caller; the studio subscribes to it but never starts or closes it. */
  jobs: JobService;
  images: ImageStore;
  skills: SkillLibrary;
  config: { port: number; host: string };
  logger: Logger;
  /** Shown on the page, e.g. "simulated MLLM and generator". */
  modelsDescription?: string;
  /** Per-server numbers of pooled models, for /metrics. */
  modelServers?: () => ModelServerStats[];
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
  const metrics = createStudioMetrics(deps.jobs, deps.modelServers);
  let server: Server | undefined;
  let unsubscribe: (() => void) | undefined;
  let routes: Route[] = [];
  // Bound to loopback, the studio also refuses other Host names: otherwise a web page whose
  // domain is re-pointed at 127.0.0.1 (DNS rebinding) could read it as same-origin.
  const isLoopbackOnly = LOOPBACK.has(deps.config.host);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const rawUrl = req.url ?? "";
      if (!rawUrl.startsWith("/")) throw new HttpError(400, "input", "The request target must be a path.");
      if (isLoopbackOnly && !isLoopbackHost(req.headers.host)) {
        throw new HttpError(403, "forbidden", "The studio answers only at localhost or 127.0.0.1.");
      }
      const url = new URL(`http://studio.local${rawUrl}`);
      const isHandled = await dispatch(routes, { req, res, url });
      if (!isHandled) throw new HttpError(404, "not-found", `Nothing is served at ${url.pathname}.`);
    } catch (error) {
      if (res.headersSent) {
        log.warn({ err: error, url: req.url }, "a response failed after it started");
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendError(req, res, error);
        return;
      }
      log.error({ err: error, method: req.method, url: req.url }, "a request failed");
      sendError(req, res, new HttpError(500, "internal", "Something went wrong in the studio; the server log has the details."));
    }
  }

  return {
    async start() {
      if (server) throw new Error("The web studio is already started.");
      const files = await loadStaticFiles();
      routes = [
        ...apiRoutes({ jobs: deps.jobs, skills: deps.skills, streams, modelsDescription: deps.modelsDescription }),
        ...siteRoutes({ jobs: deps.jobs, images: deps.images, metrics, files, sseClients: () => streams.clientCount(), startedAt: Date.now() }),
      ];
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
      const created = createServer((req, res) => void handle(req, res));
      server = created;
      try {
        await new Promise<void>((resolve, reject) => {
          created.once("error", reject);
          created.listen(deps.config.port, deps.config.host, () => {
            created.off("error", reject);
            resolve();
          });
        });
      } catch (error) {
        unsubscribe();
        unsubscribe = undefined;
        server = undefined;
        throw new GemsError(
          `The web studio could not listen on ${deps.config.host}:${deps.config.port} (${describeError(error)}). Set GEMS_WEB_PORT to a free port, e.g. GEMS_WEB_PORT=8788.`,
          "config",
          { cause: error },
        );
      }
      created.on("error", (error) => log.error({ err: error }, "the web studio's server failed"));
      const { port } = created.address() as AddressInfo;
      const url = `http://${displayHost(deps.config.host)}:${port}/`;
      log.info({ url }, "web studio listening");
      return { url };
    },

    async stop() {
      unsubscribe?.();
      unsubscribe = undefined;
      streams.closeAll();
      const current = server;
      server = undefined;
      if (!current) return;
      await new Promise<void>((resolve) => {
        current.close(() => resolve());
        // Keep-alive sockets would hold close() open until they time out.
        current.closeAllConnections();
      });
    },
  };
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
