/**
 * Bolt and its WebClient log through @slack/logger's interface; this sends those lines to the
 * project's pino logger. Their messages are free text that can quote a request, so anything
 * shaped like a Slack token is masked here: pino's scrubbing only knows field names.
 */
import { LogLevel, type Logger as BoltLogger } from "@slack/bolt";
import type { Logger } from "pino";

const TOKEN = /\bx(?:ox[abeoprs]|app)-[A-Za-z0-9-]+/g;

export function maskTokens(text: string): string {
  return text.replace(TOKEN, "[redacted]");
}

function levelOf(pinoLevel: string): LogLevel {
  switch (pinoLevel) {
    case "trace":
    case "debug":
      return LogLevel.DEBUG;
    case "info":
      return LogLevel.INFO;
    case "warn":
      return LogLevel.WARN;
    default:
      return LogLevel.ERROR;
  }
}

/** An error as a plain log record, with tokens masked in its message and stack too. */
function maskError(error: Error): Record<string, unknown> {
  const { code } = error as { code?: unknown };
  return {
    type: error.name,
    message: maskTokens(error.message),
    ...(error.stack ? { stack: maskTokens(error.stack) } : {}),
    ...(code !== undefined ? { code } : {}),
  };
}

function toLine(parts: unknown[]): { err?: Record<string, unknown>; msg: string } {
  let err: Record<string, unknown> | undefined;
  const words: string[] = [];
  for (const part of parts) {
    if (part instanceof Error && err === undefined) {
      err = maskError(part);
      words.push(part.message);
    } else if (typeof part === "string") {
      words.push(part);
    } else {
      try {
        words.push(JSON.stringify(part));
      } catch {
        // A circular object: its type is all a log reader needs.
        words.push(Object.prototype.toString.call(part));
      }
    }
  }
  return { ...(err ? { err } : {}), msg: maskTokens(words.join(" ")) };
}

/** A Bolt logger writing to `logger`; Bolt's setLevel is remembered but pino's level decides. */
export function createBoltLogger(logger: Logger): BoltLogger {
  let level = levelOf(logger.level);
  const write = (method: "debug" | "info" | "warn" | "error") => (...parts: unknown[]) => {
    const { err, msg } = toLine(parts);
    if (err) logger[method]({ err }, msg);
    else logger[method](msg);
  };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
