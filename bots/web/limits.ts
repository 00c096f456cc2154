/** The studio's own limits, kept as data so the API, the page and the README agree. */
export const WEB_LIMITS = {
  /**
   * Largest JSON body accepted. A 4,000-character prompt is at most 16 KB of UTF-8, so this
   * leaves room for the other fields while keeping a stray upload from filling memory.
   */
  bodyMaxBytes: 64 * 1024,
  /**
   * An oversized body is read to its end and discarded, so the client finishes sending and sees
   * the 413 (stopping early makes it see a reset connection instead). Past this size draining is
   * not worth it: the connection is dropped.
   */
  bodyAbortBytes: 16 * 1024 * 1024,
  nameMaxChars: 40,
  /** Proxies and some browsers drop an idle stream after 30–60 s; a comment line keeps it open. */
  sseHeartbeatMs: 15_000,
  /** The browser's reconnect delay, sent as the stream's `retry:` field. */
  sseRetryMs: 2_000,
  /**
   * A client that stops reading would make the server buffer every event for it; past this the
   * stream is closed and the browser reconnects from its Last-Event-ID.
   */
  sseMaxBufferedBytes: 1024 * 1024,
  /** Most jobs GET /api/jobs returns; the list is newest first, so old ones drop off. */
  jobListMax: 200,
} as const;
