/**
 * A loopback GEMS diffusers server: `POST /generate?prompt=…[&seed=…&width=…&height=…]`
 * answers the image as `image/png`; errors use FastAPI's `{"detail": …}` shape.
 *
 *   const generator = await startFakeGemsGenerator((call, index) =>
 *     index === 0 ? fastApiError(500, "CUDA out of memory") : pngReply(),
 *   );
 *   createGemsHttpGenerator({ url: generator.url });
 *   generator.requests[0].query.get("prompt");
 *   await generator.close();
 *
 * Without a handler every call answers a 1×1 PNG. Scripts can also answer slowly
 * (`{ delayMs }`) or with bytes that are not a PNG (`{ body, headers }`).
 */
import { startLoopbackServer, type FakeReply, type RecordedRequest } from "./loopback-server.ts";
import { TINY_PNG } from "./png-fixture.ts";

export type { FakeReply, RecordedRequest } from "./loopback-server.ts";

/** The query parameters of one generate call, as the server would read them. */
export interface GenerateCall {
  prompt: string | null;
  seed: string | null;
  width: string | null;
  height: string | null;
}

export type FakeGenerateHandler = (
  call: GenerateCall,
  index: number,
  request: RecordedRequest,
) => FakeReply | Promise<FakeReply>;

export interface FakeGemsGenerator {
  /** The generate endpoint: http://127.0.0.1:<port>/generate */
  url: string;
  requests: RecordedRequest[];
  /** The server's own meter: images it answered with (status 200 and a body). */
  sent: { images: number };
  close(): Promise<void>;
}

export async function startFakeGemsGenerator(
  handler: FakeGenerateHandler = () => pngReply(),
  options: { port?: number } = {},
): Promise<FakeGemsGenerator> {
  let count = 0;
  const sent = { images: 0 };
  const server = await startLoopbackServer(async (request) => {
    if (request.path !== "/generate") return fastApiError(404, "Not Found");
    if (request.method !== "POST") return fastApiError(405, "Method Not Allowed");
    const { query } = request;
    const call: GenerateCall = {
      prompt: query.get("prompt"),
      seed: query.get("seed"),
      width: query.get("width"),
      height: query.get("height"),
    };
    const reply = await handler(call, count++, request);
    if ((reply.status ?? 200) === 200 && reply.body !== undefined) sent.images++;
    return reply;
  }, options);
  return { url: `${server.origin}/generate`, requests: server.requests, sent, close: server.close };
}

export function pngReply(png: Uint8Array = TINY_PNG): FakeReply {
  return { headers: { "content-type": "image/png" }, body: png };
}

export function fastApiError(status: number, detail: string, headers?: Record<string, string>): FakeReply {
  return { status, headers, json: { detail } };
}

/** FastAPI's answer to a query that fails validation (a missing prompt): 422 with a list of problems. */
export function fastApiValidationError(field: string, msg = "Field required"): FakeReply {
  return { status: 422, json: { detail: [{ type: "missing", loc: ["query", field], msg, input: null }] } };
}

/** What an nginx in front of the server answers when the upstream takes longer than its proxy_read_timeout. */
export function proxyGatewayTimeout(): FakeReply {
  return {
    status: 504,
    headers: { "content-type": "text/html" },
    body: "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n",
  };
}
