/**
 * Coded errors. The message is written for the person who will read it (a user in chat or an
 * operator at start-up) and says what to do; `cause` keeps the technical detail for the log.
 */
import { redactSecrets } from "./secrets.ts";

export type GemsErrorCode =
  | "input"
  | "backend"
  | "rate-limited"
  | "timeout"
  | "not-found"
  | "forbidden"
  | "config"
  | "cancelled"
  | "storage"
  | "out-of-tokens";

export class GemsError extends Error {
  override readonly name: string = "GemsError";
  constructor(
    message: string,
    readonly code: GemsErrorCode,
    options?: { cause?: unknown },
  ) {
    // Messages are shown to people and stored; a key a server echoed must not travel with them.
    super(redactSecrets(message), options);
  }
}

/** The caller asked for something invalid; retrying the same request cannot succeed. */
export class InputError extends GemsError {
  override readonly name = "InputError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "input", options);
  }
}

/** A model server failed or answered something unusable, after any retries. */
export class BackendError extends GemsError {
  override readonly name: string = "BackendError";
  constructor(
    message: string,
    readonly backend: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, "backend", options);
    this.status = options?.status;
  }
  readonly status: number | undefined;
}

/**
 * The model hit its token limit before it finished answering (`finish_reason: "length"`), even
 * after a retry with a larger budget. Not a verdict on anything: the model never answered, and
 * waiting does not help, so it has its own code.
 */
export class OutOfTokensError extends GemsError {
  override readonly name = "OutOfTokensError";
  constructor(
    message: string,
    readonly maxTokens: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, "out-of-tokens", options);
  }
}

/**
 * The model server takes fewer images per request than were sent (vLLM's
 * `--limit-mm-per-prompt`, single-image Ollama models). The caller may send fewer and try again.
 */
export class TooManyImagesError extends BackendError {
  override readonly name = "TooManyImagesError";
  constructor(
    message: string,
    readonly maxImages: number,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, "mllm", options);
  }
}

/** The backend asked us to slow down; `retryAfterMs` is its hint when it gave one. */
export class RateLimitError extends GemsError {
  override readonly name = "RateLimitError";
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, "rate-limited", options);
  }
}

/** A step was stopped through its AbortSignal. */
export class CancelledError extends GemsError {
  override readonly name = "CancelledError";
  constructor(message = "The job was cancelled.", options?: { cause?: unknown }) {
    super(message, "cancelled", options);
  }
}

export class ConfigError extends GemsError {
  override readonly name = "ConfigError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "config", options);
  }
}

export function isAbortError(error: unknown): boolean {
  return (
    error instanceof CancelledError ||
    (error instanceof Error && (error.name === "AbortError" || error.name === "APIUserAbortError"))
  );
}

/** Short, single-line description of any thrown value, for logs and user-facing reasons. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
  return redactSecrets(text);
}
