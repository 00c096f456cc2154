/**
 * The studio's route tables, registered on Fastify. Handlers get the request and reply under the
 * names they always had (`req`, `res`) and the path parameters in order. Fastify answers 404 for
 * a known path with another method; the studio says 405 and names the allowed ones, so each
 * path also gets the other methods registered as 405 answers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import type { Person } from "../../core/jobs/types.ts";
import { HttpError } from "./http-io.ts";

export interface RouteContext {
  req: FastifyRequest;
  res: FastifyReply;
  url: URL;
  /** The path parameters in pattern order, decoded by Fastify. */
  params: string[];
  /** The signed-in person, or null when the studio runs without sign-in (GEMS_WEB_AUTH=none). */
  person: Person | null;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void> | void;

export interface Route {
  /** A Fastify path, e.g. "/api/jobs/:id/stop". */
  url: string;
  methods: Partial<Record<"GET" | "POST", RouteHandler>>;
}

const ANSWERED_WITH_405: readonly HTTPMethods[] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

export function registerRoutes(app: FastifyInstance, routes: readonly Route[], personOf: (req: FastifyRequest) => Person | null): void {
  for (const route of routes) {
    const allowed: string[] = Object.keys(route.methods);
    if (allowed.includes("GET")) allowed.push("HEAD");
    for (const [method, handler] of Object.entries(route.methods) as Array<[string, RouteHandler]>) {
      app.route({
        method: method as HTTPMethods,
        url: route.url,
        handler: async (req, res) => {
          const params = Object.values((req.params ?? {}) as Record<string, string>);
          await handler({ req, res, url: new URL(`http://studio.local${req.url}`), params, person: personOf(req) });
          return res;
        },
      });
    }
    const refused = ANSWERED_WITH_405.filter((method) => !allowed.includes(method));
    if (!allowed.includes("HEAD")) refused.push("HEAD");
    app.route({
      method: refused,
      url: route.url,
      // HEAD is answered by the GET route; Fastify must not add a second one here.
      exposeHeadRoute: false,
      handler: async (req) => {
        throw new HttpError(405, "method-not-allowed", `${req.method} is not allowed here; use ${allowed.join(" or ")}.`, { allow: allowed.join(", ") });
      },
    });
  }
}
