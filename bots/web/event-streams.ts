/**
 * Server-sent event streams. A job stream replays the job's stored events after the client's
 * last seq, then carries new ones as the studio's subscription hands them over; each SSE `id`
 * is the event's seq, so a browser that reconnects with Last-Event-ID misses nothing and sees
 * nothing twice. The overview stream carries a job summary whenever any job changes.
 */
import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { JobService, JobSummary } from "../../core/jobs/types.ts";
import { isPreviewStale } from "../../core/agent/events.ts";
import { baseHeaders } from "./http-io.ts";
import { WEB_LIMITS } from "./limits.ts";

interface JobStream {
  jobId: string;
  res: ServerResponse;
  /** The highest seq written to this client. */
  lastSeq: number;
}

export interface EventStreams {
  /** Answers the request with a stream of `jobId`'s events after `afterSeq`; the caller checked the job exists. */
  openJobStream(req: FastifyRequest, reply: FastifyReply, jobId: string, afterSeq: number): void;
  openOverviewStream(req: FastifyRequest, reply: FastifyReply): void;
  /** New events of `jobId` are stored (the subscription saw one). */
  publish(jobId: string): void;
  clientCount(): number;
  closeAll(): void;
}

export function createEventStreams(jobs: JobService, logger: Logger): EventStreams {
  const byJob = new Map<string, Set<JobStream>>();
  const overview = new Set<ServerResponse>();
  let heartbeat: NodeJS.Timeout | undefined;
  /** Previews stored before the studio started belong to a run a restart ended. */
  const startedAtMs = Date.now();

  function startHeartbeat(): void {
    if (heartbeat) return;
    heartbeat = setInterval(() => {
      for (const streams of byJob.values()) for (const stream of streams) write(stream.res, ": keep-alive\n\n");
      for (const res of overview) write(res, ": keep-alive\n\n");
    }, WEB_LIMITS.sseHeartbeatMs);
    // Open streams must not keep a stopping process alive.
    heartbeat.unref();
  }

  function write(res: ServerResponse, text: string): void {
    if (res.destroyed || res.writableEnded) return;
    if (res.writableLength > WEB_LIMITS.sseMaxBufferedBytes) {
      logger.warn("closed an event stream whose client stopped reading");
      res.destroy();
      return;
    }
    res.write(text);
  }

  /** Takes the response over from Fastify (hijack): a stream is written as events arrive, not sent once. */
  function begin(req: FastifyRequest, reply: FastifyReply, onClose: () => void): ServerResponse {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...baseHeaders(),
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      // nginx and similar proxies buffer responses unless told not to.
      "x-accel-buffering": "no",
    });
    res.write(`retry: ${WEB_LIMITS.sseRetryMs}\n\n`);
    req.raw.socket.setNoDelay(true);
    res.on("close", onClose);
    startHeartbeat();
    return res;
  }

  function flush(stream: JobStream): void {
    const stored = jobs.events(stream.jobId, stream.lastSeq);
    if (!stored.ok) {
      // The job was swept while someone watched it.
      write(stream.res, `event: gone\ndata: ${JSON.stringify({ message: stored.message })}\n\n`);
      stream.res.end();
      return;
    }
    for (const [index, event] of stored.events.entries()) {
      if (event.seq <= stream.lastSeq) continue;
      // A replay skips previews already replaced (their files may be gone), as chat surfaces do.
      if (event.type === "image.preview" && isPreviewStale(event, stored.events.slice(index + 1), startedAtMs)) {
        stream.lastSeq = event.seq;
        continue;
      }
      // JSON.stringify escapes line breaks, so one data line holds the whole event.
      write(stream.res, `id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`);
      stream.lastSeq = event.seq;
    }
  }

  function summaryOf(jobId: string): JobSummary | null {
    const status = jobs.status(jobId);
    if (!status.ok) return null;
    const { trajectory: _trajectory, surfaceRef: _surfaceRef, ...summary } = status.job;
    return summary;
  }

  return {
    openJobStream(req, reply, jobId, afterSeq) {
      const stream: JobStream = { jobId, res: reply.raw, lastSeq: afterSeq };
      let streams = byJob.get(jobId);
      if (!streams) {
        streams = new Set();
        byJob.set(jobId, streams);
      }
      const set = streams;
      set.add(stream);
      begin(req, reply, () => {
        set.delete(stream);
        if (set.size === 0 && byJob.get(jobId) === set) byJob.delete(jobId);
      });
      flush(stream);
    },

    openOverviewStream(req, reply) {
      const res = begin(req, reply, () => overview.delete(res));
      overview.add(res);
    },

    publish(jobId) {
      for (const stream of byJob.get(jobId) ?? []) flush(stream);
      if (overview.size === 0) return;
      const summary = summaryOf(jobId);
      if (!summary) return;
      const text = `event: job\ndata: ${JSON.stringify(summary)}\n\n`;
      for (const res of overview) write(res, text);
    },

    clientCount() {
      let count = overview.size;
      for (const streams of byJob.values()) count += streams.size;
      return count;
    },

    closeAll() {
      clearInterval(heartbeat);
      heartbeat = undefined;
      for (const streams of byJob.values()) for (const stream of streams) stream.res.end();
      for (const res of overview) res.end();
      byJob.clear();
      overview.clear();
    },
  };
}
