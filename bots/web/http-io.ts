/**
 * The studio's answers in one shape: JSON bodies, JSON errors ({error: {code, message}}), and the
 * headers every response carries. Fastify parses and limits the bodies (see studio.ts); these
 * helpers keep the route handlers' words the same whatever serves them.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { RefusalReason, Refusal } from "../../core/jobs/types.ts";
import { WEB_LIMITS } from "./limits.ts";

/** A 4xx (or 5xx) answer with a message written for the person using the page. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// The service's refusals are answers, not failures; each reason has one HTTP status.
const REFUSAL_STATUS: Record<RefusalReason, number> = {
  input: 400,
  "not-found": 404,
  forbidden: 403,
  "queue-full": 429,
  "rate-limited": 429,
  quota: 429,
  conflict: 409,
  unavailable: 503,
  storage: 503,
  // The record exists but cannot be read: the server's fault, not the caller's.
  corrupt: 500,
  // Well-formed, but its content is refused.
  moderation: 422,
};

export function refusalError(refusal: Refusal): HttpError {
  return new HttpError(REFUSAL_STATUS[refusal.reason], refusal.reason, refusal.message);
}

/**
 * The page loads only its own scripts, styles and images; nothing may frame it. Set on every
 * response (an onSend hook in studio.ts) so an error page cannot be abused either.
 */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

/** `req` is unused since Fastify answers HEAD itself; it stays so every handler reads the same. */
export function send(_req: FastifyRequest, res: FastifyReply, status: number, body: string | Uint8Array, headers: Record<string, string>): void {
  const payload = typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  void res.code(status).headers(headers).send(payload);
}

export function sendJson(req: FastifyRequest, res: FastifyReply, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(req, res, status, JSON.stringify(value), { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
}

export function sendError(req: FastifyRequest, res: FastifyReply, error: HttpError): void {
  sendJson(req, res, error.status, { error: { code: error.code, message: error.message } }, error.headers);
}

/** Headers for a response the studio writes itself (the event streams, which bypass onSend). */
export function baseHeaders(): Record<string, string> {
  return { ...BASE_HEADERS };
}

/**
 * The JSON body, which Fastify's parser (jsonBodyParser) has already read. Requiring
 * `application/json` is also a CSRF guard: a page on another site cannot send that content type
 * without a CORS preflight, which the studio never grants. A POST with no body has no
 * content type and lands here.
 */
export async function readJsonBody(req: FastifyRequest): Promise<unknown> {
  if (!isJson(req.headers["content-type"])) throw unsupportedMediaType();
  return req.body;
}

export function isJson(contentType: string | undefined): boolean {
  return (contentType ?? "").split(";")[0]?.trim().toLowerCase() === "application/json";
}

export function unsupportedMediaType(): HttpError {
  return new HttpError(415, "unsupported-media-type", 'Send the request body as JSON with the header "Content-Type: application/json".');
}

export function tooLarge(): HttpError {
  return new HttpError(413, "too-large", `The request body is larger than ${Math.round(WEB_LIMITS.bodyMaxBytes / 1024)} KB, the limit. Shorten the text and try again.`, {
    connection: "close",
  });
}

/** Fastify's content-type parser for JSON: the studio's own words for an empty or broken body. */
export function parseJsonText(text: string): unknown {
  if (text.trim() === "") throw new HttpError(400, "bad-json", "The request body is empty; send a JSON object.");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, "bad-json", `The request body is not valid JSON (${error instanceof Error ? error.message : String(error)}).`);
  }
}
