import { BackendError, RateLimitError, describeError } from "../errors.ts";
import { redactSecrets } from "../secrets.ts";
import { withRetry, type RetryOptions, type Sleep } from "./retry.ts";

/**
 * A failure worth another attempt (5xx, timeout, dropped connection). It never leaves an
 * adapter: once the attempts run out it becomes a BackendError.
 */
export class TransientFailure extends Error {
  override readonly name = "TransientFailure";
  constructor(
    readonly reason: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
  }
}

/** Backoff knobs every adapter accepts; tests shrink them and inject `sleep`/`random`. */
export interface RetryTuning {
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: Sleep;
  random?: () => number;
  /** Called before each backoff, e.g. to log "retrying in 1.2 s: server error 502". */
  onRetry?: RetryOptions["onRetry"];
}

export interface BackendCall {
  /** `BackendError.backend`, e.g. "mllm" or "generator". */
  backend: string;
  /** Subject of user-facing messages, e.g. "The MLLM at api.openai.com". */
  label: string;
  timeoutMs: number;
  maxRetries: number;
  retry?: RetryTuning;
  signal?: AbortSignal;
  /** Turns an adapter-specific error into TransientFailure, RateLimitError or a final error. */
  classify: (error: unknown) => unknown;
  /** Scrubbed from every message we build, so a key echoed by a server never reaches a user. */
  secret?: string;
}

const DEFAULT_BASE_DELAY_MS = 500;
const DEFAULT_MAX_DELAY_MS = 8_000;

/**
 * Runs one request per attempt, each with its own timeout, retrying transient failures and
 * rate limits. Throws CancelledError on the caller's abort and BackendError otherwise.
 */
export async function callBackend<T>(call: BackendCall, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  let attemptsMade = 0;
  try {
    return await withRetry(
      async () => {
        attemptsMade++;
        const timeout = AbortSignal.timeout(call.timeoutMs);
        const signal = call.signal ? AbortSignal.any([call.signal, timeout]) : timeout;
        try {
          return await run(signal);
        } catch (error) {
          // withRetry turns any failure after the caller's abort into CancelledError; only the
          // per-attempt timeout needs telling apart here.
          if (timeout.aborted && !call.signal?.aborted) {
            throw new TransientFailure(`no answer within ${call.timeoutMs} ms`, undefined, { cause: error });
          }
          throw call.classify(error);
        }
      },
      {
        attempts: call.maxRetries + 1,
        baseDelayMs: call.retry?.baseDelayMs ?? DEFAULT_BASE_DELAY_MS,
        maxDelayMs: call.retry?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
        signal: call.signal,
        sleep: call.retry?.sleep,
        random: call.retry?.random,
        onRetry: call.retry?.onRetry,
        isRetryable: (error) => error instanceof TransientFailure || error instanceof RateLimitError,
      },
    );
  } catch (error) {
    throw finalError(error, call, attemptsMade);
  }
}

function finalError(error: unknown, call: BackendCall, attemptsMade: number): unknown {
  if (!(error instanceof TransientFailure || error instanceof RateLimitError)) return error;
  const tries = attemptsMade === 1 ? "1 attempt" : `${attemptsMade} attempts`;
  const reason = error instanceof TransientFailure ? error.reason : describeRateLimit(error);
  const status = error instanceof TransientFailure ? error.status : 429;
  const message = `${call.label} did not answer after ${tries}: ${reason}. Try again later.`;
  return new BackendError(redact(message, call.secret), call.backend, { cause: error, status });
}

function describeRateLimit(error: RateLimitError): string {
  if (error.retryAfterMs === undefined) return "rate limited (429)";
  return `rate limited (429, asked to wait ${Math.ceil(error.retryAfterMs / 1000)} s)`;
}

/** The host of a URL for messages; never the path or query, which may carry tokens. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    // Config validation owns bad URLs; here we only need a readable name for a message.
    return "an invalid URL";
  }
}

/** `text` without `secret`, masked echoes of it, or any other known or key-shaped secret. */
export function redact(text: string, secret: string | undefined): string {
  return redactSecrets(text, secret);
}

/** First line of a server's message, shortened: HTML error pages can be kilobytes long. */
export function shorten(text: string, limit = 200): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}

/**
 * The most specific reason in a cause chain: the SDK wraps undici's TypeError("fetch failed"),
 * which wraps the socket error whose `code` (ECONNREFUSED, ENOTFOUND…) actually helps.
 */
export function describeCause(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if ("code" in current && typeof current.code === "string") return current.code;
    if (current.cause === undefined) break;
    current = current.cause;
  }
  return describeError(current);
}
