/**
 * A loopback OpenAI API: POST /v1/chat/completions and POST /v1/images/generations, with
 * OpenAI's payload and error shapes (`{"error":{"message","type","param","code"}}`), real
 * status codes and Retry-After on 429.
 *
 *   const openai = await startFakeOpenAi({
 *     chat: (body, index) => (index === 0 ? openAiError(500, "boom") : chatCompletion("hello")),
 *   });
 *   createOpenAiCompatibleMllm({ baseUrl: openai.url, model: "m" });
 *   openai.requests[0].body.messages;   // what the client sent
 *   await openai.close();
 *
 * `index` counts requests to that endpoint from 0, so a script can fail the first tries and
 * then succeed. Without a script, chat answers "ok" and images answer a 1×1 PNG.
 */
import { startLoopbackServer, type FakeReply, type RecordedRequest } from "./loopback-server.ts";
import { TINY_PNG_BASE64 } from "./png-fixture.ts";
import { readMultipart, type MultipartForm } from "./multipart.ts";

export type { FakeReply, RecordedRequest } from "./loopback-server.ts";

/** `body` is the parsed JSON the client sent. */
export type FakeEndpoint = (body: any, index: number, request: RecordedRequest) => FakeReply | Promise<FakeReply>;

export interface FakeOpenAiScript {
  chat?: FakeEndpoint;
  images?: FakeEndpoint;
  /** POST /v1/images/edits, given the multipart form; by default a 1×1 PNG. */
  edits?: (form: MultipartForm, index: number, request: RecordedRequest) => FakeReply | Promise<FakeReply>;
}

export interface FakeOpenAi {
  /** The SDK's baseURL: http://127.0.0.1:<port>/v1 */
  url: string;
  /** Every request, in arrival order, to any path. */
  requests: RecordedRequest[];
  /**
   * The server's own meter: the `usage` it sent in successful chat completions, summed, and
   * the images it returned. The usage ledger is checked against these.
   */
  sent: SentUsage;
  close(): Promise<void>;
}

export interface SentUsage {
  completions: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  images: number;
}

export async function startFakeOpenAi(script: FakeOpenAiScript = {}): Promise<FakeOpenAi> {
  const counts = { chat: 0, images: 0, edits: 0 };
  const edits = script.edits ?? (() => imagesResponse([TINY_PNG_BASE64]));
  const chat = script.chat ?? (() => chatCompletion("ok"));
  const images = script.images ?? (() => imagesResponse([TINY_PNG_BASE64]));
  const sent: SentUsage = { completions: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, images: 0 };
  const meter = (reply: FakeReply): FakeReply => {
    const json = reply.json as { usage?: any; data?: unknown[]; object?: string } | undefined;
    if ((reply.status ?? 200) < 400 && json) {
      if (json.object === "chat.completion" && json.usage) {
        sent.completions++;
        sent.promptTokens += json.usage.prompt_tokens ?? 0;
        sent.cachedTokens += json.usage.prompt_tokens_details?.cached_tokens ?? 0;
        sent.completionTokens += json.usage.completion_tokens ?? 0;
      }
      if (Array.isArray(json.data)) sent.images += json.data.length;
    }
    return reply;
  };
  const server = await startLoopbackServer(async (request) => {
    const route = `${request.method} ${request.path}`;
    if (route === "POST /v1/chat/completions") return meter(await chat(request.body, counts.chat++, request));
    if (route === "POST /v1/images/generations") return meter(await images(request.body, counts.images++, request));
    if (route === "POST /v1/images/edits") return meter(await editImage(request, (form) => edits(form, counts.edits++, request)));
    return openAiError(404, `Invalid URL (${route})`, { code: null });
  });
  return { url: `${server.origin}/v1`, requests: server.requests, sent, close: server.close };
}

/**
 * The checks OpenAI makes on an edit before running it, with its error wording: a multipart
 * body, a prompt, at least one image (as `image` or `image[]`), and only PNG, JPEG or WebP files.
 */
async function editImage(request: RecordedRequest, answer: (form: MultipartForm) => FakeReply | Promise<FakeReply>): Promise<FakeReply> {
  const form = await readMultipart(request);
  if (!form) return openAiError(400, "Invalid Content-Type header (application/json), expected multipart/form-data.", { code: null });
  if (!form.fields.prompt) return openAiError(400, "Missing required parameter: 'prompt'.", { code: "missing_required_parameter" });
  const images = form.files.filter((f) => f.field === "image" || f.field === "image[]");
  if (images.length === 0) return openAiError(400, "Missing required parameter: 'image'.", { code: "missing_required_parameter" });
  const unsupported = images.find((f) => !["image/png", "image/jpeg", "image/webp"].includes(f.type));
  if (unsupported) {
    return openAiError(
      400,
      `Invalid file 'image': unsupported mimetype ('${unsupported.type}'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.`,
      { code: "unsupported_file_mimetype" },
    );
  }
  return answer(form);
}

/** A chat.completion as OpenAI sends it; `message` adds fields such as `reasoning_content`. */
export function chatCompletion(
  content: string | null,
  message: Record<string, unknown> = {},
  model = "fake-model",
): FakeReply {
  return {
    json: {
      id: "chatcmpl-fake0001",
      object: "chat.completion",
      created: 1_735_689_600,
      model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content, refusal: null, annotations: [], ...message },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
      system_fingerprint: null,
    },
  };
}

/** An images response with one entry per base64 image, as gpt-image-1 answers. */
export function imagesResponse(b64Images: string[]): FakeReply {
  return {
    json: {
      created: 1_735_689_600,
      data: b64Images.map((b64_json) => ({ b64_json })),
      background: "opaque",
      output_format: "png",
      quality: "low",
      size: "1024x1024",
      usage: { input_tokens: 10, output_tokens: 272, total_tokens: 282 },
    },
  };
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "invalid_request_error",
  403: "invalid_request_error",
  404: "invalid_request_error",
  429: "requests",
  500: "server_error",
  503: "server_error",
};

/** OpenAI's error body with a real status code. */
export function openAiError(
  status: number,
  message: string,
  options: { type?: string; code?: string | null; param?: string | null; headers?: Record<string, string> } = {},
): FakeReply {
  return {
    status,
    headers: options.headers,
    json: {
      error: {
        message,
        type: options.type ?? ERROR_TYPES[status] ?? "api_error",
        param: options.param ?? null,
        code: options.code ?? null,
      },
    },
  };
}

/** OpenAI's 429 with a Retry-After in seconds. */
export function rateLimited(retryAfterSeconds: number): FakeReply {
  return openAiError(429, "Rate limit reached for requests. Please try again later.", {
    code: "rate_limit_exceeded",
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}
