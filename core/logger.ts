import { pino, type DestinationStream, type Logger } from "pino";
import { redactSecrets } from "./secrets.ts";

/**
 * Field names whose values never reach a log line, at any depth. Keys and tokens reach log
 * calls inside configs, request headers and SDK errors, nested to any depth, which pino's
 * fixed redact paths cannot follow.
 */
const SECRET_FIELD = /token|secret|password|api[-_]?key|authorization|cookie/i;
const MAX_DEPTH = 8;

/** A copy of `value` with every secret-named field replaced by "[redacted]". */
export function scrubSecrets(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== "object" || value instanceof Error) return value;
  if (seen.has(value) || depth > MAX_DEPTH) return "[omitted]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => scrubSecrets(item, depth + 1, seen));
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    copy[key] = SECRET_FIELD.test(key) ? "[redacted]" : scrubSecrets(inner, depth + 1, seen);
  }
  return copy;
}

/**
 * Scrubs every line on its way to `destination`: secret-named fields, then any known secret or
 * credential-shaped text left anywhere in the line (a server's error body echoing a key).
 * Done at the stream rather than in pino's formatters because child-logger bindings never pass
 * through those.
 */
function scrubbingDestination(destination: DestinationStream): DestinationStream {
  return {
    write(line: string): void {
      let scrubbed = line;
      try {
        scrubbed = `${JSON.stringify(scrubSecrets(JSON.parse(line)))}\n`;
      } catch {
        // Not a JSON record (pino only writes JSON, so this is a foreign line): pass it on.
      }
      destination.write(redactSecrets(scrubbed));
    },
  };
}

const VERBOSE_LEVELS = new Set(["debug", "trace"]);

/**
 * An error as one short line: its type, code and own message. pino's standard serializer adds
 * the stack and folds every cause's message into `message`, which turns one failure into
 * kilobytes (and repeats whatever a server put in its error body); that is kept for debug.
 */
export function briefError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: error.message.split("\n")[0] ?? "",
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
  };
}

/**
 * The one root logger; everything else logs through children of it (jobId, surface, user).
 * Stacks and cause chains are logged only at debug and trace.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const serializers: Record<string, (value: unknown) => unknown> = VERBOSE_LEVELS.has(level) ? {} : { err: briefError };
  return pino({ level, base: { app: "gems-bot" }, serializers }, scrubbingDestination(destination ?? pino.destination(1)));
}

/** How often one error that keeps coming is logged again, with how many times it came meanwhile. */
const REPEAT_WINDOW_MS = 60_000;

/**
 * Logs an error the first time it comes, then, while the same one keeps coming (a client
 * retrying a server that is down, every half second), at most once a window, saying how many
 * times it came since: one line a minute instead of a wall of identical ones. Errors are the
 * same when their message and `fields` (say, the job they are about) are.
 */
export function createRepeatedErrorLog(
  logger: Logger,
  msg: string,
  options: { level?: "warn" | "error"; windowMs?: number; now?: () => number } = {},
): (error: unknown, fields?: Record<string, string | undefined>) => void {
  const level = options.level ?? "error";
  const windowMs = options.windowMs ?? REPEAT_WINDOW_MS;
  const now = options.now ?? Date.now;
  const seen = new Map<string, { loggedAt: number; since: number }>();
  return (error, fields = {}) => {
    const key = `${JSON.stringify(fields)}\u0000${error instanceof Error ? error.message : String(error)}`;
    const at = now();
    // Errors that stopped coming are forgotten, so the map stays as small as what is failing now.
    for (const [other, old] of seen) if (at - old.loggedAt >= windowMs && other !== key) seen.delete(other);
    const entry = seen.get(key);
    if (entry && at - entry.loggedAt < windowMs) {
      entry.since++;
      return;
    }
    seen.set(key, { loggedAt: at, since: 0 });
    logger[level]({ ...fields, err: error, ...(entry && entry.since > 0 ? { repeatedSinceLast: entry.since } : {}) }, msg);
  };
}

/** For code paths that must take a logger but whose caller does not care (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: "silent" });
