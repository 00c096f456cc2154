/**
 * Request and response plumbing for the studio: JSON bodies with a size limit, JSON errors in
 * one shape ({error: {code, message}}), and the headers every response carries.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
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
  conflict: 409,
  unavailable: 503,
  storage: 503,
  // The record exists but cannot be read: the server's fault, not the caller's.
  corrupt: 500,
};

export function refusalError(refusal: Refusal): HttpError {
  return new HttpError(REFUSAL_STATUS[refusal.reason], refusal.reason, refusal.message);
}

/**
 * The page loads only its own scripts, styles and images; nothing may frame it. Set on every
 * response so an error page cannot be abused either.
 */
const BASE_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string | Uint8Array,
  headers: Record<string, string>,
): void {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { ...BASE_HEADERS, "content-length": String(bytes.byteLength), ...headers });
  // HEAD gets the headers GET would, without the body.
  res.end(req.method === "HEAD" ? undefined : bytes);
}

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(req, res, status, JSON.stringify(value), { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
}

export function sendError(req: IncomingMessage, res: ServerResponse, error: HttpError): void {
  sendJson(req, res, error.status, { error: { code: error.code, message: error.message } }, error.headers);
}

/** Headers for a response the studio writes itself (the event streams). */
export function baseHeaders(): Record<string, string> {
  return { ...BASE_HEADERS };
}

/**
 * Reads a JSON body. Requiring `application/json` is also the CSRF guard: a page on another
 * site cannot send that content type without a CORS preflight, which the studio never grants.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    await discard(req);
    throw new HttpError(415, "unsupported-media-type", 'Send the request body as JSON with the header "Content-Type: application/json".');
  }
  const limit = WEB_LIMITS.bodyMaxBytes;
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > WEB_LIMITS.bodyAbortBytes) {
    req.destroy();
    throw tooLarge(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > WEB_LIMITS.bodyAbortBytes) {
      req.destroy();
      throw tooLarge(limit);
    }
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw tooLarge(limit);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw new HttpError(400, "bad-json", "The request body is empty; send a JSON object.");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(400, "bad-json", `The request body is not valid JSON (${error instanceof Error ? error.message : String(error)}).`);
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "too-large", `The request body is larger than ${Math.round(limit / 1024)} KB, the limit. Shorten the text and try again.`, {
    connection: "close",
  });
}

async function discard(req: IncomingMessage): Promise<void> {
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > WEB_LIMITS.bodyAbortBytes) {
      req.destroy();
      return;
    }
  }
}
