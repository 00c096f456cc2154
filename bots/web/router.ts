/** A route table small enough to read: a path pattern and a handler per method. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./http-io.ts";

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The pattern's capture groups, still URL-encoded. */
  params: string[];
}

export type RouteHandler = (ctx: RouteContext) => Promise<void> | void;

export interface Route {
  pattern: RegExp;
  methods: Partial<Record<"GET" | "POST", RouteHandler>>;
}

/** Runs the matching handler; a known path with another method is a 405 naming the allowed ones. */
export async function dispatch(routes: readonly Route[], ctx: Omit<RouteContext, "params">): Promise<boolean> {
  for (const route of routes) {
    const match = route.pattern.exec(ctx.url.pathname);
    if (!match) continue;
    const method = ctx.req.method === "HEAD" ? "GET" : ctx.req.method;
    const handler = route.methods[method as keyof Route["methods"]];
    if (!handler) {
      const allowed = Object.keys(route.methods);
      if (allowed.includes("GET")) allowed.push("HEAD");
      throw new HttpError(405, "method-not-allowed", `${ctx.req.method ?? "This method"} is not allowed here; use ${allowed.join(" or ")}.`, {
        allow: allowed.join(", "),
      });
    }
    await handler({ ...ctx, params: match.slice(1) });
    return true;
  }
  return false;
}
