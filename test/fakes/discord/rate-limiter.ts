/**
 * Discord-style rate limits for the fake: a fixed window per bucket (route + major parameter),
 * announced on every response in X-RateLimit-* headers, and a 429 with the real JSON body when
 * a client goes over. discord.js reads the headers and should never see the 429.
 */
import { createHash } from "node:crypto";

export interface RateLimitRule {
  /** Requests per window in each bucket. */
  limit: number;
  windowMs: number;
}

export interface RateLimitVerdict {
  isAllowed: boolean;
  headers: Record<string, string>;
  /** Seconds, as Discord sends them, when not allowed. */
  retryAfter: number;
}

interface Window {
  count: number;
  resetAt: number;
}

export class FakeRateLimiter {
  readonly #windows = new Map<string, Window>();

  constructor(
    private readonly rule: RateLimitRule,
    private readonly now: () => number = Date.now,
  ) {}

  take(route: string, majorParameter: string): RateLimitVerdict {
    const key = `${route}:${majorParameter}`;
    const at = this.now();
    let window = this.#windows.get(key);
    if (!window || at >= window.resetAt) {
      window = { count: 0, resetAt: at + this.rule.windowMs };
      this.#windows.set(key, window);
    }
    const resetAfter = Math.max(0, window.resetAt - at) / 1000;
    const isAllowed = window.count < this.rule.limit;
    if (isAllowed) window.count++;
    const headers: Record<string, string> = {
      "x-ratelimit-limit": String(this.rule.limit),
      "x-ratelimit-remaining": String(Math.max(0, this.rule.limit - window.count)),
      "x-ratelimit-reset": (window.resetAt / 1000).toFixed(3),
      "x-ratelimit-reset-after": resetAfter.toFixed(3),
      // Discord's bucket ids are opaque hashes of the route.
      "x-ratelimit-bucket": createHash("sha1").update(route).digest("hex").slice(0, 16),
      "x-ratelimit-scope": "user",
    };
    if (!isAllowed) headers["retry-after"] = resetAfter.toFixed(3);
    return { isAllowed, headers, retryAfter: resetAfter };
  }
}
