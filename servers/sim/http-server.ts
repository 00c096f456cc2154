/**
 * The sim models behind real protocols: OpenAI chat completions and images, and the GEMS
 * diffusers server's POST /generate. The real adapters can point here and run fully offline.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeError, InputError } from "../../core/errors.ts";
import type { ImageGenerator, ImageRequest, Mllm } from "../../core/models/ports.ts";
import { chatBody, chatCompletion, describeIssues, errorBody, imagesBody, imageStreamEvent, toMllmMessages, WireError, type ImagesBody } from "./openai-wire.ts";
import { hashText } from "./random.ts";
import { draftOfPng } from "./edit-drawing.ts";
import { sniffImageType } from "../../core/images/image-type.ts";
import { createSimGenerator } from "./sim-generator.ts";
import { createSimMllm } from "./sim-mllm.ts";

export interface SimServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  mllm?: Mllm;
  generator?: ImageGenerator;
  log?: (line: string) => void;
  /** Larger request bodies get 413; default 20 MB, enough for a few data-URL images. */
  maxBodyBytes?: number;
}

export interface SimServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 20 * 1024 * 1024;

interface Context {
  mllm: Mllm;
  generator: ImageGenerator;
  maxBodyBytes: number;
}

/** Starts the sim server; resolves once it listens. */
export async function startSimServer(options: SimServerOptions = {}): Promise<SimServer> {
  const context: Context = {
    mllm: options.mllm ?? createSimMllm(),
    generator: options.generator ?? createSimGenerator(),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY,
  };
  const log = options.log ?? (() => {});
  const server = createServer((req, res) => {
    const started = Date.now();
    res.on("finish", () => log(`${req.method} ${req.url?.split("?")[0]} ${res.statusCode} ${Date.now() - started}ms`));
    route(req, res, context).catch((error: unknown) => {
      log(`${req.method} ${req.url} failed: ${describeError(error)}`);
      if (!res.headersSent) sendJson(res, 500, errorBody(`The sim server failed: ${describeError(error)}`, "server_error", null));
      else res.destroy();
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets from SDK clients would otherwise hold close() open.
        server.closeAllConnections();
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, context: Context): Promise<void> {
  const url = new URL(req.url ?? "/", "http://sim.local");
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const isOpenAi = path.startsWith("/v1/");
  const routes: Record<string, { method: string; handle: () => Promise<void> }> = {
    "/healthz": { method: "GET", handle: async () => sendText(res, 200, "ok") },
    "/v1/models": { method: "GET", handle: async () => sendJson(res, 200, modelList()) },
    "/v1/chat/completions": { method: "POST", handle: () => handleChat(req, res, context) },
    "/v1/images/generations": { method: "POST", handle: () => handleImages(req, res, context) },
    "/v1/images/edits": { method: "POST", handle: () => handleEdits(req, res, context) },
    "/generate": { method: "POST", handle: () => handleGenerate(req, res, url, context) },
  };
  const match = routes[path];
  if (!match) {
    req.resume();
    if (isOpenAi) sendJson(res, 404, errorBody(`Unknown endpoint ${path}.`, "invalid_request_error", "unknown_url"));
    else sendText(res, 404, `Not found: ${path}`);
    return;
  }
  if (req.method !== match.method) {
    req.resume();
    res.setHeader("Allow", match.method);
    if (isOpenAi) sendJson(res, 405, errorBody(`Use ${match.method} for ${path}.`, "invalid_request_error", "method_not_allowed"));
    else sendText(res, 405, `Use ${match.method} for ${path}.`);
    return;
  }
  try {
    await match.handle();
  } catch (error) {
    if (!(error instanceof WireError)) throw error;
    if (isOpenAi) sendJson(res, error.status, errorBody(error.message, "invalid_request_error", error.code));
    else sendText(res, error.status, error.message);
  }
}

const modelList = () => ({
  object: "list",
  data: [{ id: "gems-sim", object: "model", created: 0, owned_by: "gems-sim (a simulation)" }],
});

async function handleChat(req: IncomingMessage, res: ServerResponse, context: Context): Promise<void> {
  const parsed = chatBody.safeParse(await readJson(req, context.maxBodyBytes));
  if (!parsed.success) throw new WireError(describeIssues(parsed.error), 400, "invalid_body");
  if (parsed.data.stream) throw new WireError("The sim server does not stream; send stream: false.", 400, "unsupported_stream");
  const messages = toMllmMessages(parsed.data.messages);
  const reply = await context.mllm.chat({ messages });
  sendJson(res, 200, chatCompletion(parsed.data, reply, messages));
}

async function handleImages(req: IncomingMessage, res: ServerResponse, context: Context): Promise<void> {
  const parsed = imagesBody.safeParse(await readJson(req, context.maxBodyBytes));
  if (!parsed.success) throw new WireError(describeIssues(parsed.error), 400, "invalid_body");
  const body = parsed.data;
  if (body.response_format === "url") {
    const message = 'The sim server returns images only as b64_json; omit response_format or send "b64_json".';
    throw new WireError(message, 400, "unsupported_response_format");
  }
  const [width, height] = body.size && body.size !== "auto" ? body.size.split("x").map(Number) : [undefined, undefined];
  const seed = body.seed ?? hashText(body.prompt);
  if (body.stream) return streamImage(res, context, body, { seed, width, height });
  const data: Array<{ b64_json: string }> = [];
  for (let i = 0; i < (body.n ?? 1); i++) {
    const png = await generate(context.generator, { prompt: body.prompt, seed: seed + i, width, height });
    data.push({ b64_json: Buffer.from(png).toString("base64") });
  }
  sendJson(res, 200, { created: Math.floor(Date.now() / 1000), data });
}

/**
 * POST /v1/images/edits, multipart as OpenAI takes it: `image` (or `image[]`, several), `prompt`,
 * optional `n` and `size`. The first image is the one changed with the prompt: a sim drawing is
 * edited (only what the prompt names changes), any other image is drawn from the prompt with the
 * remaining images as references. Answers b64_json, as gpt-image models do.
 */
async function handleEdits(req: IncomingMessage, res: ServerResponse, context: Context): Promise<void> {
  const contentType = String(req.headers["content-type"] ?? "");
  if (!contentType.startsWith("multipart/form-data")) {
    req.resume();
    throw new WireError(`Invalid Content-Type header (${contentType || "none"}), expected multipart/form-data.`, 400, "invalid_content_type");
  }
  const raw = await readBody(req, context.maxBodyBytes);
  let form: FormData;
  try {
    form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
  } catch (error) {
    throw new WireError(`The multipart body could not be read (${describeError(error)}).`, 400, "invalid_body");
  }
  const prompt = form.get("prompt");
  if (typeof prompt !== "string" || prompt.trim() === "") throw new WireError("Missing required parameter: 'prompt'.", 400, "missing_required_parameter");
  const files = [...form.getAll("image"), ...form.getAll("image[]")].flatMap((v) => (typeof v === "string" ? [] : [v]));
  if (files.length === 0) throw new WireError("Missing required parameter: 'image'.", 400, "missing_required_parameter");
  const images = await Promise.all(files.map(async (f) => new Uint8Array(await f.arrayBuffer())));
  if (images.some((bytes) => sniffImageType(bytes) === null)) {
    throw new WireError("Invalid image file: supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.", 400, "invalid_image_file");
  }
  const size = form.get("size");
  const [width, height] = typeof size === "string" && /^\d+x\d+$/.test(size) ? size.split("x").map(Number) : [undefined, undefined];
  const [first, ...rest] = images as [Uint8Array, ...Uint8Array[]];
  const request: ImageRequest = draftOfPng(first)
    ? { prompt, edit: { image: first, instruction: prompt }, images: rest, seed: hashText(prompt), width, height }
    : { prompt, images, seed: hashText(prompt), width, height };
  const png = await generate(context.generator, request);
  sendJson(res, 200, { created: Math.floor(Date.now() / 1000), data: [{ b64_json: Buffer.from(png).toString("base64") }] });
}

/**
 * `stream: true`: server-sent events as OpenAI sends them, the sim's partial drawings (at most
 * `partial_images`, as the generator reports them while it draws) and then the final image. As
 * with OpenAI, a generator that finishes first sends fewer partials. Headers go out with the
 * first event, so a refused request still gets a plain JSON error.
 */
async function streamImage(
  res: ServerResponse,
  context: Context,
  body: ImagesBody,
  size: { seed: number; width: number | undefined; height: number | undefined },
): Promise<void> {
  if ((body.n ?? 1) !== 1) throw new WireError("Streaming makes one image; send n: 1 with stream: true.", 400, "invalid_value");
  const sizeText = size.width && size.height ? `${size.width}x${size.height}` : "auto";
  const send = (event: { event: string; data: Record<string, unknown> }) => {
    if (!res.headersSent) res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", Connection: "keep-alive" });
    res.write(`event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`);
  };
  const wanted = body.partial_images ?? 0;
  let sent = 0;
  let png: Uint8Array;
  try {
    png = await generate(context.generator, {
      prompt: body.prompt,
      seed: size.seed,
      width: size.width,
      height: size.height,
      onProgress: (progress) => {
        if (sent >= wanted || progress.preview === null) return;
        send(imageStreamEvent("partial", progress.preview, { size: sizeText, partialIndex: sent++ }));
      },
    });
  } catch (error) {
    if (!res.headersSent) throw error;
    // Mid-stream, OpenAI reports a failure as an `error` event; the SDK raises it as an APIError.
    res.end(`event: error\ndata: ${JSON.stringify(errorBody(`The sim generator failed: ${describeError(error)}`, "server_error", null))}\n\n`);
    return;
  }
  send(imageStreamEvent("completed", png, { size: sizeText, prompt: body.prompt }));
  res.end();
}

async function handleGenerate(req: IncomingMessage, res: ServerResponse, url: URL, context: Context): Promise<void> {
  await readBody(req, context.maxBodyBytes); // the protocol sends everything in the query; drain any body
  const prompt = url.searchParams.get("prompt")?.trim();
  if (!prompt) throw new WireError("Missing the prompt query parameter: POST /generate?prompt=...", 400, null);
  const number = (name: string) => {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === "") return undefined;
    if (!/^\d+$/.test(raw)) {
      throw new WireError(`The ${name} query parameter must be a non-negative whole number (got "${raw}").`, 400, null);
    }
    return Number(raw);
  };
  const png = await generate(context.generator, { prompt, seed: number("seed"), width: number("width"), height: number("height") });
  res.writeHead(200, { "Content-Type": "image/png", "Content-Length": png.length });
  res.end(png);
}

async function generate(generator: ImageGenerator, request: ImageRequest) {
  try {
    return await generator.generate(request);
  } catch (error) {
    if (error instanceof InputError) throw new WireError(error.message, 400, "invalid_value");
    throw error;
  }
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch (error) {
    throw new WireError(`The request body is not valid JSON (${describeError(error)}).`, 400, "invalid_json");
  }
}

/** Reads the whole body, or throws a 413 once it passes `limit` (the rest is drained, not kept). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(req.headers["content-length"] ?? 0) > limit) {
    req.resume();
    throw new WireError(`The request body is larger than ${limit} bytes.`, 413, "request_too_large");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw new WireError(`The request body is larger than ${limit} bytes.`, 413, "request_too_large");
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
