import { APIConnectionError, APIConnectionTimeoutError, APIError } from "openai";
import { BackendError, RateLimitError, TooManyImagesError, describeError } from "../errors.ts";
import { TransientFailure, describeCause, redact, shorten } from "./backend-call.ts";
import { parseRetryAfterMs } from "./retry-after.ts";

export interface OpenAiErrorContext {
  /** Subject of messages, e.g. "The MLLM at api.openai.com". */
  label: string;
  backend: string;
  apiKey?: string;
}

/** Maps an `openai` SDK error onto our retry policy and user-facing messages. */
export function classifyOpenAiError(error: unknown, context: OpenAiErrorContext): unknown {
  const { label, backend, apiKey } = context;
  if (error instanceof APIConnectionTimeoutError) return new TransientFailure("timed out", undefined, { cause: error });
  if (error instanceof APIConnectionError) {
    return new TransientFailure(`could not connect (${describeCause(error)})`, undefined, { cause: error });
  }
  if (!(error instanceof APIError) || error.status === undefined) {
    const reason = redact(shorten(describeError(error)), apiKey);
    return new BackendError(`${label} answered something unreadable: ${reason}`, backend, { cause: error });
  }

  const status = error.status;
  const serverMessage = redact(shorten(messageOf(error)), apiKey);
  const fail = (message: string) => new BackendError(message, backend, { cause: error, status });

  if (status === 429) {
    // OpenAI uses 429 for an exhausted quota too; waiting does not refill it.
    if (error.code === "insufficient_quota" || error.type === "insufficient_quota") {
      return fail(`${label} says the account is out of quota (429): ${serverMessage}`);
    }
    return new RateLimitError(`${label} is rate limiting requests (429).`, parseRetryAfterMs(error.headers), {
      cause: error,
    });
  }
  if (status === 408 || status === 409 || status >= 500) {
    return new TransientFailure(`server error ${status}: ${serverMessage}`, status, { cause: error });
  }
  const imageLimit = imageLimitOf(serverMessage);
  if (status === 400 && imageLimit !== null) {
    return new TooManyImagesError(
      `${label} takes at most ${imageLimit} image(s) per request (${serverMessage}). Raise its limit (vLLM: --limit-mm-per-prompt) to show the model more.`,
      imageLimit,
      { cause: error, status },
    );
  }
  // The server's 401 text can echo part of the key ("Incorrect API key provided: sk-ab***"), so leave it out.
  if (status === 401) {
    const setting = backend === "mllm" ? "GEMS_MLLM_API_KEY" : "GEMS_GENERATOR_API_KEY";
    return fail(`${label} rejected the API key (401). Check ${setting} (or OPENAI_API_KEY).`);
  }
  if (status === 403) return fail(`${label} refused the request (403): ${serverMessage}`);
  if (status === 404) {
    return fail(
      `${label} has no such model or endpoint (404): ${serverMessage}. ` +
        "Check the base URL (it usually ends in /v1) and the model name.",
    );
  }
  return fail(`${label} rejected the request (${status}): ${serverMessage}`);
}

/**
 * The per-request image limit a server reports: vLLM says "At most 2 image(s) may be provided
 * in one prompt." (older builds: "in one request."); Ollama's single-image vision models say
 * they support only one image.
 */
export function imageLimitOf(message: string): number | null {
  const vllm = /At most (\d+) image\(s\) may be provided in one (?:prompt|request)/i.exec(message);
  if (vllm) return Number(vllm[1]);
  if (/only supports? (?:a single|one) image/i.test(message)) return 1;
  return null;
}

function messageOf(error: APIError): string {
  const body = error.error as { message?: unknown } | undefined;
  if (body && typeof body.message === "string") return body.message;
  // The SDK prefixes its own message with the status ("500 status code (no body)").
  return error.message.replace(/^\d{3}\s+/, "");
}
