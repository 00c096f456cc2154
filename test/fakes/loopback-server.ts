/**
 * Shared plumbing for the wire-level fakes: an HTTP server on 127.0.0.1 (port 0) that records
 * every request before answering it from a script. Use the protocol fakes
 * (openai-server.ts, gems-generator-server.ts) in tests; build new fakes on this.
 *
 * A reply may wait `delayMs` before sending anything, to provoke client timeouts; the wait
 * ends early when the client hangs up, and close() cuts open connections so no test waits
 * for a slow reply.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. "/v1/chat/completions". */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** The body parsed as JSON when it is JSON, else undefined. Wire bodies are untyped on purpose. */
  body: any;
}

export interface FakeReply {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** Sent as application/json unless `headers` say otherwise. */
  json?: unknown;
  body?: string | Uint8Array;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface LoopbackServer {
  /** http://127.0.0.1:<port>, no trailing slash. */
  origin: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type Route = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

/** `port` restarts a server on the address it had, e.g. to bring a killed pool member back. */
export async function startLoopbackServer(route: Route, options: { port?: number } = {}): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer(async (req, res) => {
    let hungUp = false;
    res.on("close", () => {
      hungUp = true;
    });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const rawBody = Buffer.concat(chunks);
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      rawBody,
      body: parseJson(rawBody),
    };
    requests.push(recorded);
    let reply: FakeReply;
    try {
      reply = await route(recorded);
    } catch (error) {
      // A broken script should fail the test loudly, not hang it.
      reply = { status: 500, body: `fake server script failed: ${String(error)}` };
    }
    if (reply.delayMs) await waitUnlessClosed(reply.delayMs, res);
    if (!hungUp) send(res, reply);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, reply: FakeReply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let body: string | Uint8Array = reply.body ?? "";
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    headers["content-type"] ??= "application/json";
  }
  res.writeHead(reply.status ?? 200, headers);
  res.end(body);
}

function waitUnlessClosed(ms: number, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.on("close", done);
  });
}

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    // Not every fake speaks JSON; the raw bytes stay in `rawBody`.
    return undefined;
  }
}
