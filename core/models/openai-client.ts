import OpenAI from "openai";

export interface OpenAiClientConfig {
  baseUrl?: string;
  apiKey?: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/**
 * An SDK client that reads nothing from the environment (the SDK would otherwise pick up
 * OPENAI_ORG_ID, OPENAI_ADMIN_KEY… and send them to whatever server we point it at) and never
 * retries on its own, so backoff and error messages stay ours.
 */
export function createOpenAiClient(config: OpenAiClientConfig): OpenAI {
  return new OpenAI({
    baseURL: config.baseUrl ?? OPENAI_BASE_URL,
    apiKey: config.apiKey ?? "not-needed",
    adminAPIKey: null,
    organization: null,
    project: null,
    webhookSecret: null,
    // A margin over our own per-attempt timeout, which fires first and also covers the body.
    timeout: config.timeoutMs + 1_000,
    maxRetries: 0,
    fetch: withOpenAiErrorShape(config.fetch ?? globalThis.fetch),
  });
}

/**
 * vLLM, FastAPI-based servers and some proxies answer errors as `{"message": …}` or
 * `{"detail": …}` instead of OpenAI's `{"error": {"message": …}}`; the SDK then drops the
 * message. Rewrapping keeps the server's words for the user.
 */
function withOpenAiErrorShape(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    if (response.ok) return response;
    const text = await response.text();
    const message = messageOutsideErrorShape(text);
    const headers = new Headers(response.headers);
    // The body below is already decoded and may change length.
    headers.delete("content-length");
    headers.delete("content-encoding");
    const body = message === undefined ? text : JSON.stringify({ error: { message } });
    return new Response(body, { status: response.status, statusText: response.statusText, headers });
  };
}

function messageOutsideErrorShape(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (an HTML proxy page, plain text): the SDK reports the raw text itself.
    return undefined;
  }
  if (!parsed || typeof parsed !== "object") return undefined;
  const { error, message, detail } = parsed as { error?: unknown; message?: unknown; detail?: unknown };
  if (error !== undefined) return typeof error === "string" ? error : undefined;
  if (typeof message === "string") return message;
  if (typeof detail === "string") return detail;
  return detail === undefined ? undefined : JSON.stringify(detail);
}
