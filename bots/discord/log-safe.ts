/**
 * Errors from discord.js as log fields without secrets. DiscordAPIError and HTTPError keep the
 * request URL, and interaction and webhook URLs carry a token in the path; pino would print it
 * with the error. So errors are logged as these fields, never as the objects themselves.
 */
import { DiscordAPIError, HTTPError, RateLimitError } from "discord.js";

const TOKEN_IN_PATH = /\/(interactions|webhooks)\/(\d+)\/[^/?]+/g;

export function maskUrl(url: string): string {
  return url.replace(TOKEN_IN_PATH, "/$1/$2/[token]");
}

export interface SafeError {
  name: string;
  message: string;
  status?: number;
  code?: number | string;
  method?: string;
  url?: string;
  stack?: string;
}

export function safeError(error: unknown): SafeError {
  if (error instanceof DiscordAPIError) {
    return { name: error.name, message: maskUrl(error.message), status: error.status, code: error.code, method: error.method, url: maskUrl(error.url) };
  }
  if (error instanceof HTTPError) {
    return { name: error.name, message: maskUrl(error.message), status: error.status, method: error.method, url: maskUrl(error.url) };
  }
  if (error instanceof RateLimitError) {
    return { name: error.name, message: `rate limited on ${error.route} for ${error.timeToReset} ms`, method: error.method, url: maskUrl(error.url) };
  }
  // Our own bugs need their stack; it holds file paths, not request URLs.
  if (error instanceof Error) return { name: error.name, message: maskUrl(error.message), ...(error.stack ? { stack: maskUrl(error.stack) } : {}) };
  return { name: "Error", message: maskUrl(String(error)) };
}

/** Discord said no for good (4xx other than 429): trying the same request again cannot help. */
export function isPermanentRefusal(error: unknown): boolean {
  return error instanceof DiscordAPIError && error.status >= 400 && error.status < 500 && error.status !== 429;
}
