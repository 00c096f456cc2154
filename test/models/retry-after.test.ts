import { describe, expect, it } from "vitest";
import { parseRetryAfterMs } from "../../core/models/retry-after.ts";

describe("parseRetryAfterMs", () => {
  it("reads Retry-After in seconds", () => {
    expect(parseRetryAfterMs(new Headers({ "retry-after": "7" }))).toBe(7_000);
  });

  it("prefers OpenAI's retry-after-ms when both are sent", () => {
    expect(parseRetryAfterMs(new Headers({ "retry-after": "1", "retry-after-ms": "250" }))).toBe(250);
  });

  it("reads Retry-After as an HTTP date relative to now", () => {
    const now = Date.parse("Wed, 01 Jan 2025 00:00:00 GMT");
    expect(parseRetryAfterMs(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:30 GMT" }), () => now)).toBe(30_000);
  });

  it("is undefined when the header is missing or unreadable", () => {
    expect(parseRetryAfterMs(new Headers())).toBeUndefined();
    expect(parseRetryAfterMs(new Headers({ "retry-after": "soon" }))).toBeUndefined();
  });
});
