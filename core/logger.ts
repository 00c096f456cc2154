import { pino, type DestinationStream, type Logger } from "pino";

/**
 * Paths pino blanks out wherever they appear in a log record. Keys and tokens reach log calls
 * through configs, request headers and SDK errors, so the list covers all three shapes.
 */
export const REDACTED_PATHS = [
  "token",
  "apiKey",
  "appToken",
  "botToken",
  "signingSecret",
  "authorization",
  "*.token",
  "*.apiKey",
  "*.appToken",
  "*.botToken",
  "*.signingSecret",
  "*.authorization",
  "*.Authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  "*.*.apiKey",
  "*.*.token",
];

/** The one root logger; everything else logs through children of it (jobId, surface, user). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: "[redacted]" }, base: { app: "gems-bot" } }, destination);
}

/** For code paths that must take a logger but whose caller does not care (tests, benchmarks). */
export const silentLogger: Logger = pino({ level: "silent" });
