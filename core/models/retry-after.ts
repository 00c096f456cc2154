/**
 * How long a server asked us to wait, in ms. OpenAI sends the non-standard `retry-after-ms`
 * as well as `retry-after`, which RFC 9110 allows as seconds or an HTTP date.
 */
export function parseRetryAfterMs(headers: Headers, now: () => number = Date.now): number | undefined {
  const milliseconds = headers.get("retry-after-ms");
  if (milliseconds !== null) {
    const value = Number(milliseconds);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const retryAfter = headers.get("retry-after")?.trim();
  if (!retryAfter) return undefined;
  if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}
