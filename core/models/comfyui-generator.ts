/**
 * An ImageGenerator over a ComfyUI server running the user's own workflow (see
 * comfyui-workflow.ts for how values reach it). One call:
 *   1. opens `/ws?clientId=<uuid>` first, so no message about our prompt can be missed;
 *   2. queues the filled workflow with `POST /prompt {prompt, client_id}`;
 *   3. follows the socket: `progress {value, max}` gives the percent, binary frames the
 *      previews, `execution_error`/`execution_interrupted` end it with one line, and
 *      `executing {node: null}` (sent once the history is written) ends it well;
 *   4. reads the outputs from `/history/{prompt_id}` and the image from `/view`.
 * When the socket drops mid-run the prompt keeps running on the server, so the call falls back
 * to polling `/history` instead of queueing the work twice.
 */
import { createHash, randomInt, randomUUID } from "node:crypto";
import WebSocket from "ws";
import { BackendError } from "../errors.ts";
import { sniffImageType } from "../images/image-type.ts";
import { TransientFailure, callBackend, hostOf, shorten } from "./backend-call.ts";
import { fillWorkflow, type ComfyWorkflow } from "./comfyui-workflow.ts";
import {
  GENERATOR_SERVER_DEFAULTS,
  classifyFetchFailure,
  requestJson,
  requireImage,
  statusError,
  type DetailOf,
  type GeneratorServerOptions,
} from "./generator-http.ts";
import type { ImageGenerator, ImageRequest } from "./ports.ts";

export interface ComfyUiGeneratorConfig extends GeneratorServerOptions {
  /** The server's root, e.g. "http://gpu-box:8188". */
  url: string;
  workflow: ComfyWorkflow;
  /**
   * A workflow with a LoadImage node whose `image` input is "{{image}}" (and a sampler's denoise,
   * "{{denoise}}"): used to edit an image or draw from a reference. Without it the generator
   * takes text only.
   */
  imageWorkflow?: ComfyWorkflow;
  /** `{{denoise}}` for an edit and for drawing from a reference; defaults 0.5 and 0.75. */
  editDenoise?: number;
  referenceDenoise?: number;
  negativePrompt?: string;
  steps?: number;
  /** Used when a request gives no width and height. */
  size?: { width: number; height: number };
  /** How often `/history` is polled when the socket is lost. */
  historyPollMs?: number;
}

const DEFAULT_SIZE = { width: 1024, height: 1024 };

/** Binary socket frames start with a big-endian u32 event type (ComfyUI's BinaryEventTypes). */
const PREVIEW_IMAGE = 1;
const PREVIEW_IMAGE_WITH_METADATA = 4;

interface ComfyNodeError {
  errors?: Array<{ message?: string; details?: string }>;
  class_type?: string;
}

/**
 * `POST /prompt` refuses a workflow with `{error: {type, message, details}, node_errors: {id:
 * {errors: [{message, details}], class_type}}}`: the top message and each node's first error.
 */
export const comfyDetail: DetailOf = (body) => {
  if (!body || typeof body !== "object") return "";
  const b = body as { error?: unknown; node_errors?: unknown };
  const parts: string[] = [];
  if (typeof b.error === "string") parts.push(b.error);
  else if (b.error && typeof b.error === "object") {
    const e = b.error as { message?: unknown; details?: unknown };
    if (typeof e.message === "string") parts.push(e.message + (typeof e.details === "string" && e.details ? ` (${e.details})` : ""));
  }
  if (b.node_errors && typeof b.node_errors === "object") {
    for (const [id, node] of Object.entries(b.node_errors as Record<string, ComfyNodeError>)) {
      const first = node.errors?.[0];
      if (!first) continue;
      parts.push(`node ${id} (${node.class_type ?? "?"}): ${first.message ?? "error"}${first.details ? `: ${first.details}` : ""}`);
    }
  }
  return parts.join("; ");
};

type Outcome = { ok: true } | { ok: false; error: Error };

export function createComfyUiGenerator(config: ComfyUiGeneratorConfig): ImageGenerator {
  const fetchImpl = config.fetch ?? globalThis.fetch;
  const root = config.url.replace(/\/+$/, "");
  const label = `The ComfyUI server at ${hostOf(root)}`;
  const historyPollMs = config.historyPollMs ?? 1_000;

  /**
   * `POST /upload/image` (multipart: `image` file, `type` "input", `overwrite`), as server.py
   * takes it; the answer `{name, subfolder, type}` names the file as LoadImage reads it. The file
   * is named by its hash and overwritten, so the same image sent twice is one file.
   */
  async function uploadImage(bytes: Uint8Array, signal: AbortSignal): Promise<string> {
    const type = sniffImageType(bytes) ?? "image/png";
    const name = `gems-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.${type === "image/jpeg" ? "jpg" : type.slice("image/".length)}`;
    const form = new FormData();
    form.append("image", new Blob([bytes], { type }), name);
    form.append("type", "input");
    form.append("overwrite", "true");
    const response = await fetchImpl(`${root}/upload/image`, { method: "POST", body: form, signal });
    if (!response.ok) throw await statusError(response, label, comfyDetail);
    const answer = (await response.json().catch(() => null)) as { name?: unknown; subfolder?: unknown } | null;
    if (!answer || typeof answer.name !== "string" || answer.name === "") {
      throw new BackendError(`${label} took the image upload but did not name the file (no "name" in its answer).`, "generator");
    }
    return typeof answer.subfolder === "string" && answer.subfolder !== "" ? `${answer.subfolder}/${answer.name}` : answer.name;
  }

  async function run(request: ImageRequest, signal: AbortSignal): Promise<Uint8Array> {
    const size = request.width && request.height ? { width: request.width, height: request.height } : (config.size ?? DEFAULT_SIZE);
    const init = config.imageWorkflow ? (request.edit?.image ?? request.images?.[0]) : undefined;
    const image = init ? await uploadImage(init, signal) : undefined;
    const prompt = fillWorkflow(image && config.imageWorkflow ? config.imageWorkflow : config.workflow, {
      ...(image ? { image, denoise: request.edit ? (config.editDenoise ?? 0.5) : (config.referenceDenoise ?? 0.75) } : {}),
      // A diffusion model reads prompts, not instructions: an edit's instruction goes first.
      prompt: image && request.edit ? `${request.edit.instruction}, ${request.prompt}` : request.prompt,
      negativePrompt: config.negativePrompt ?? "",
      // ComfyUI samplers take any 64-bit seed; an unseeded request gets a fresh one, as in its UI.
      seed: request.seed ?? randomInt(0, 2 ** 32),
      width: size.width,
      height: size.height,
      steps: config.steps ?? 20,
    });
    const clientId = randomUUID();
    const socket = await openSocket(`${root.replace(/^http/, "ws")}/ws?clientId=${clientId}`, signal);
    let promptId: string | undefined;
    try {
      const follow = followPrompt(socket, () => promptId, request.onProgress, label);
      const queued = (await requestJson(fetchImpl, `${root}/prompt`, { body: { prompt, client_id: clientId }, signal }, label, comfyDetail)) as {
        prompt_id?: unknown;
        node_errors?: unknown;
      };
      if (typeof queued.prompt_id !== "string") {
        throw new BackendError(`${label} queued the workflow without a prompt_id: ${shorten(JSON.stringify(queued))}`, "generator");
      }
      promptId = queued.prompt_id;
      follow.promptKnown();
      const outcome = await Promise.race([follow.done, abortedPromise(signal)]);
      if (outcome !== "socket-lost" && !outcome.ok) throw outcome.error;
      // Also after a clean end: a server or proxy may answer before its history is written.
      await waitForHistory(promptId, signal);
      return await fetchResult(promptId, signal);
    } catch (error) {
      if (promptId && signal.aborted) void cancelPrompt(promptId);
      throw error;
    } finally {
      socket.terminate();
    }
  }

  async function waitForHistory(promptId: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const history = await readHistory(promptId, signal);
      if (history) return;
      await new Promise((resolve) => setTimeout(resolve, historyPollMs));
      if (signal.aborted) throw signal.reason;
    }
  }

  async function readHistory(promptId: string, signal: AbortSignal): Promise<HistoryEntry | undefined> {
    const history = (await requestJson(fetchImpl, `${root}/history/${encodeURIComponent(promptId)}`, { signal }, label, comfyDetail)) as Record<
      string,
      HistoryEntry
    >;
    return history[promptId];
  }

  async function fetchResult(promptId: string, signal: AbortSignal): Promise<Uint8Array> {
    const entry = await readHistory(promptId, signal);
    if (!entry) throw new BackendError(`${label} has no history for prompt ${promptId}; it may have been cleared.`, "generator");
    const failure = entry.status?.status_str === "error" ? historyError(entry) : undefined;
    if (failure) throw new BackendError(`${label} ${failure}`, "generator");
    const images = Object.values(entry.outputs ?? {}).flatMap((output) => output.images ?? []);
    // Saved images ("output") before previews ("temp"), in case the workflow has both.
    const image = images.find((i) => i.type === "output") ?? images[0];
    if (!image?.filename) {
      throw new BackendError(`${label} finished the workflow but it produced no image; give it a SaveImage node.`, "generator");
    }
    const view = new URL(`${root}/view`);
    view.searchParams.set("filename", image.filename);
    view.searchParams.set("subfolder", image.subfolder ?? "");
    view.searchParams.set("type", image.type ?? "output");
    const response = await fetchImpl(view, { signal });
    if (!response.ok) throw await statusError(response, label, comfyDetail);
    return requireImage(new Uint8Array(await response.arrayBuffer()), label, `${image.filename}`);
  }

  async function cancelPrompt(promptId: string): Promise<void> {
    // Best effort, after the caller has gone: drop it from the queue, or stop it if it runs.
    const post = (path: string, body: unknown) =>
      fetchImpl(`${root}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).catch(() => undefined);
    await post("/queue", { delete: [promptId] });
    await post("/interrupt", { prompt_id: promptId });
  }

  return {
    name: `comfyui:${hostOf(root)}`,
    capabilities: { references: config.imageWorkflow !== undefined, edit: config.imageWorkflow !== undefined },
    generate(request: ImageRequest): Promise<Uint8Array> {
      return callBackend(
        {
          backend: "generator",
          label,
          timeoutMs: config.timeoutMs ?? GENERATOR_SERVER_DEFAULTS.timeoutMs,
          maxRetries: config.maxRetries ?? GENERATOR_SERVER_DEFAULTS.maxRetries,
          retry: config.retry,
          signal: request.signal,
          classify: (error) => classifyFetchFailure(error, label),
        },
        (signal) => run(request, signal),
      );
    },
  };
}

interface HistoryEntry {
  outputs?: Record<string, { images?: Array<{ filename?: string; subfolder?: string; type?: string }> }>;
  status?: { status_str?: string; completed?: boolean; messages?: Array<[string, Record<string, unknown>]> };
}

function historyError(entry: HistoryEntry): string {
  const message = entry.status?.messages?.find(([type]) => type === "execution_error")?.[1];
  return message ? describeExecutionError(message) : "reports the workflow failed (status \"error\").";
}

/** `execution_error` data: node_id, node_type, exception_type, exception_message, traceback… */
function describeExecutionError(data: Record<string, unknown>): string {
  const node = `node ${String(data["node_id"] ?? "?")} (${String(data["node_type"] ?? "?")})`;
  const kind = typeof data["exception_type"] === "string" ? `${data["exception_type"]}: ` : "";
  return `failed in ${node}: ${kind}${shorten(String(data["exception_message"] ?? "no message"))}`;
}

/** Rejects when the attempt's signal aborts (the caller's cancel or the per-attempt timeout). */
function abortedPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    // The signal is per attempt and dropped with it, so the listener goes with it too.
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

function openSocket(url: string, signal: AbortSignal): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const onAbort = () => {
      socket.terminate();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("open", () => {
      signal.removeEventListener("abort", onAbort);
      resolve(socket);
    });
    socket.once("error", (error) => {
      signal.removeEventListener("abort", onAbort);
      // Refused or reset: the same retry policy as an HTTP call that could not connect.
      reject(new TransientFailure(`could not open its websocket (${(error as { code?: string }).code ?? error.message})`, undefined, { cause: error }));
    });
    // The 'unexpected-response' event: the server answered HTTP (e.g. 404) instead of upgrading.
    socket.once("unexpected-response", (_req, res) => {
      signal.removeEventListener("abort", onAbort);
      socket.terminate();
      const status = res.statusCode ?? 0;
      reject(
        status >= 500
          ? new TransientFailure(`websocket refused with ${status}`, status)
          : new BackendError(`The server at ${hostOf(url.replace(/^ws/, "http"))} is not a ComfyUI server (its /ws answered ${status}). Check GEMS_GENERATOR_URL.`, "generator", { status }),
      );
    });
  });
}

/**
 * Reads the socket until our prompt ends. Messages can arrive before `POST /prompt` answers
 * with the id, so they wait in `early` until `promptKnown()`.
 */
function followPrompt(
  socket: WebSocket,
  promptId: () => string | undefined,
  onProgress: ImageRequest["onProgress"],
  label: string,
): { done: Promise<Outcome | "socket-lost">; promptKnown: () => void } {
  let finish: (outcome: Outcome | "socket-lost") => void = () => {};
  const done = new Promise<Outcome | "socket-lost">((resolve) => (finish = resolve));
  let percent = 0;
  const early: Array<{ type: string; data: Record<string, unknown> }> = [];

  const handle = (type: string, data: Record<string, unknown>) => {
    const id = promptId();
    if (id === undefined) {
      early.push({ type, data });
      return;
    }
    if (data["prompt_id"] !== undefined && data["prompt_id"] !== id) return;
    switch (type) {
      case "progress": {
        const value = Number(data["value"]);
        const max = Number(data["max"]);
        if (max > 0 && Number.isFinite(value)) {
          percent = Math.max(0, Math.min(100, Math.round((value / max) * 100)));
          onProgress?.({ percent, preview: null });
        }
        break;
      }
      // ComfyUI sends execution_success from inside its executor and writes the history after;
      // `executing {node: null}` comes once the history is written, so that is the end.
      case "executing":
        if (data["node"] === null && data["prompt_id"] === id) finish({ ok: true });
        break;
      case "execution_error":
        finish({ ok: false, error: new BackendError(`${label} ${describeExecutionError(data)}`, "generator") });
        break;
      case "execution_interrupted":
        finish({
          ok: false,
          error: new BackendError(`${label} interrupted the workflow in node ${String(data["node_id"] ?? "?")} (someone cancelled it on the server).`, "generator"),
        });
        break;
      default:
      // status, execution_start, execution_cached, executed: nothing to do; the history has the outputs.
    }
  };

  socket.on("message", (raw: Buffer, isBinary: boolean) => {
    if (isBinary) {
      const preview = previewOf(raw);
      // Binary frames carry no prompt id; they go to our client id only, so they are ours.
      if (preview && onProgress) onProgress({ percent, preview });
      return;
    }
    try {
      const message = JSON.parse(raw.toString("utf8")) as { type?: unknown; data?: unknown };
      if (typeof message.type === "string" && message.data && typeof message.data === "object") {
        handle(message.type, message.data as Record<string, unknown>);
      }
    } catch {
      // A frame that is not JSON is not one of ours to act on.
    }
  });
  socket.on("close", () => finish("socket-lost"));
  socket.on("error", () => finish("socket-lost"));
  return {
    done,
    promptKnown: () => {
      for (const message of early.splice(0)) handle(message.type, message.data);
    },
  };
}

/**
 * The image in a binary frame: `[u32 event][u32 format][bytes]` for PREVIEW_IMAGE (format 1
 * JPEG, 2 PNG), or `[u32 event][u32 metadata length][metadata JSON][bytes]` for
 * PREVIEW_IMAGE_WITH_METADATA. All integers big-endian. Null for any other frame.
 */
export function previewOf(frame: Buffer): Uint8Array | null {
  if (frame.byteLength < 8) return null;
  const event = frame.readUInt32BE(0);
  let image: Uint8Array;
  if (event === PREVIEW_IMAGE) image = frame.subarray(8);
  else if (event === PREVIEW_IMAGE_WITH_METADATA) {
    const length = frame.readUInt32BE(4);
    if (8 + length > frame.byteLength) return null;
    image = frame.subarray(8 + length);
  } else return null;
  return sniffImageType(image) ? new Uint8Array(image) : null;
}
