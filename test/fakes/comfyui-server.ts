/**
 * A loopback ComfyUI server, HTTP and WebSocket on one port, shaped like ComfyUI's server.py:
 * - `POST /prompt {prompt, client_id}` → `{prompt_id, number, node_errors: {}}`, or 400 with
 *   `{error: {type, message, details, extra_info}, node_errors: {id: {errors, dependent_outputs,
 *   class_type}}}` for an unknown node type, a checkpoint not in its list, or no output node;
 * - `/ws?clientId=` sends `status` on connect, then per prompt (one at a time, like its queue):
 *   `execution_start`, `execution_cached`, `executing {node}`, `progress {value, max}` per
 *   sampler step each followed by a binary preview frame (u32 BE event 1 = PREVIEW_IMAGE, u32 BE
 *   format 1 = JPEG / 2 = PNG, then the image), `executed` for the save node, `executing {node:
 *   null}` and `execution_success`; or `execution_error` / `execution_interrupted`;
 * - `GET /history/{id}` → `{id: {prompt, outputs, status: {status_str, completed, messages}}}`,
 *   `{}` while unknown; `GET /view?filename&subfolder&type` → the image bytes;
 * - `POST /upload/image` (multipart: `image` file, `type`, `subfolder`, `overwrite`) → `{name,
 *   subfolder, type}`, an empty 400 without a file or file name; a LoadImage node naming a file
 *   never uploaded fails validation as its VALIDATE_INPUTS does ("Invalid image file: …");
 * - `GET /system_stats`, `POST /queue`, `POST /interrupt`.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { WebSocketServer, type WebSocket } from "ws";

export const FAKE_CHECKPOINTS = ["sd_xl_base_1.0.safetensors", "flux1-dev-fp8.safetensors"];
const KNOWN_NODES = new Set(["CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage", "PreviewImage", "LoadImage", "VAEEncode"]);
const OUTPUT_NODES = new Set(["SaveImage", "PreviewImage"]);

export interface FakeComfyOptions {
  /** Wall time per sampler step; default 2 ms. */
  stepMs?: number;
  /** Preview format in the binary frames; default JPEG (format 1). */
  previewFormat?: "jpeg" | "png";
  /** Format of the saved image; default PNG. */
  outputFormat?: "png" | "webp";
  /** For the prompt with this index (from 0): fail in the sampler, interrupt, or drop the socket. */
  trouble?: (index: number) => "execution_error" | "interrupted" | "drop-socket" | undefined;
  /** Listen on this port (to restart a killed server on its old address); default 0. */
  port?: number;
}

export interface FakeComfy {
  url: string;
  port: number;
  /** Workflows queued, as received. */
  prompts: Array<{ prompt: Record<string, any>; client_id: string }>;
  /** Every HTTP request's method and path. */
  requests: Array<{ method: string; path: string; query: URLSearchParams }>;
  /** Binary preview frames sent. */
  previewFrames: Buffer[];
  /** Files uploaded to /upload/image, by the name LoadImage takes ("subfolder/name" or "name"). */
  uploads: Map<string, { bytes: Uint8Array; type: string; fields: Record<string, string> }>;
  close(): Promise<void>;
}

interface Run {
  id: string;
  number: number;
  prompt: Record<string, any>;
  clientId: string;
  index: number;
}

const solid = async (rgb: [number, number, number], format: "png" | "jpeg" | "webp", size: number): Promise<Buffer> =>
  sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })[format]().toBuffer();

export async function startFakeComfyUi(options: FakeComfyOptions = {}): Promise<FakeComfy> {
  const stepMs = options.stepMs ?? 2;
  const sockets = new Map<string, WebSocket>();
  const history = new Map<string, unknown>();
  const files = new Map<string, Buffer>();
  const prompts: FakeComfy["prompts"] = [];
  const requests: FakeComfy["requests"] = [];
  const previewFrames: Buffer[] = [];
  const uploads: FakeComfy["uploads"] = new Map();
  let queue: Promise<void> = Promise.resolve();
  let number = 0;

  const send = (clientId: string, type: string, data: Record<string, unknown>) => {
    sockets.get(clientId)?.send(JSON.stringify({ type, data }));
  };
  const sendPreview = async (clientId: string, step: number) => {
    const format = options.previewFormat ?? "jpeg";
    const header = Buffer.alloc(8);
    header.writeUInt32BE(1, 0); // BinaryEventTypes.PREVIEW_IMAGE
    header.writeUInt32BE(format === "jpeg" ? 1 : 2, 4);
    const frame = Buffer.concat([header, await solid([step * 30, 60, 0], format, 8)]);
    previewFrames.push(frame);
    sockets.get(clientId)?.send(frame, { binary: true });
  };

  async function execute(run: Run): Promise<void> {
    const { id, clientId, prompt } = run;
    const messages: Array<[string, Record<string, unknown>]> = [];
    const emit = (type: string, data: Record<string, unknown>) => {
      const full = { ...data, prompt_id: id, timestamp: Date.now() };
      if (type.startsWith("execution_")) messages.push([type, full]);
      send(clientId, type, full);
    };
    send(clientId, "status", { status: { exec_info: { queue_remaining: 1 } } });
    emit("execution_start", {});
    emit("execution_cached", { nodes: [] });
    const trouble = options.trouble?.(run.index);
    const outputs: Record<string, unknown> = {};
    let status = "success";
    for (const [nodeId, node] of Object.entries(prompt)) {
      send(clientId, "executing", { node: nodeId, display_node: nodeId, prompt_id: id });
      if (node.class_type === "KSampler") {
        const steps = Number(node.inputs.steps ?? 20);
        for (let step = 1; step <= steps; step++) {
          await new Promise((resolve) => setTimeout(resolve, stepMs));
          send(clientId, "progress", { value: step, max: steps, prompt_id: id, node: nodeId });
          await sendPreview(clientId, step);
          if (step === 2 && trouble === "drop-socket") sockets.get(clientId)?.terminate();
        }
        if (trouble === "execution_error") {
          emit("execution_error", {
            node_id: nodeId,
            node_type: "KSampler",
            executed: [],
            exception_message: "CUDA out of memory. Tried to allocate 20.00 MiB",
            exception_type: "torch.OutOfMemoryError",
            traceback: ["Traceback (most recent call last):\n", "  File \"execution.py\", line 1\n"],
            current_inputs: {},
            current_outputs: {},
          });
          status = "error";
          break;
        }
        if (trouble === "interrupted") {
          emit("execution_interrupted", { node_id: nodeId, node_type: "KSampler", executed: [] });
          status = "error";
          break;
        }
      }
      if (OUTPUT_NODES.has(node.class_type)) {
        const type = node.class_type === "SaveImage" ? "output" : "temp";
        const extension = options.outputFormat ?? "png";
        const filename = `${node.inputs.filename_prefix ?? "ComfyUI"}_${String(run.number).padStart(5, "0")}_.${extension}`;
        files.set(`${type}/gems/${filename}`, await solid([0, 100, 200], extension, 32));
        const output = { images: [{ filename, subfolder: "gems", type }] };
        outputs[nodeId] = output;
        send(clientId, "executed", { node: nodeId, display_node: nodeId, output, prompt_id: id });
      }
    }
    // As in ComfyUI's prompt worker: execution_success is sent from inside the executor, the
    // history is written afterwards (task_done), and only then `executing {node: null}`.
    if (status === "success") emit("execution_success", {});
    await new Promise((resolve) => setTimeout(resolve, 20));
    history.set(id, {
      prompt: [run.number, id, prompt, { client_id: clientId }, Object.keys(outputs)],
      outputs,
      status: { status_str: status, completed: status === "success", messages },
      meta: {},
    });
    send(clientId, "executing", { node: null, prompt_id: id });
    send(clientId, "status", { status: { exec_info: { queue_remaining: 0 } } });
  }

  function validate(prompt: Record<string, any>): { status: number; json: unknown } | null {
    const nodeErrors: Record<string, unknown> = {};
    for (const [id, node] of Object.entries(prompt)) {
      if (!KNOWN_NODES.has(node?.class_type)) {
        return {
          status: 400,
          json: {
            error: { type: "invalid_prompt", message: `Cannot execute because node ${node?.class_type} does not exist.`, details: `Node ID '#${id}'`, extra_info: {} },
            node_errors: {},
          },
        };
      }
      if (node.class_type === "LoadImage" && !uploads.has(String(node.inputs?.image))) {
        nodeErrors[id] = {
          errors: [
            {
              type: "custom_validation_failed",
              message: "Custom validation failed for node",
              details: `image - Invalid image file: ${node.inputs?.image}`,
              extra_info: { input_name: "image" },
            },
          ],
          dependent_outputs: Object.keys(prompt).filter((key) => OUTPUT_NODES.has(prompt[key].class_type)),
          class_type: node.class_type,
        };
      }
      if (node.class_type === "CheckpointLoaderSimple" && !FAKE_CHECKPOINTS.includes(node.inputs?.ckpt_name)) {
        nodeErrors[id] = {
          errors: [
            {
              type: "value_not_in_list",
              message: "Value not in list",
              details: `ckpt_name: '${node.inputs?.ckpt_name}' not in ${JSON.stringify(FAKE_CHECKPOINTS)}`,
              extra_info: { input_name: "ckpt_name" },
            },
          ],
          dependent_outputs: Object.keys(prompt).filter((key) => OUTPUT_NODES.has(prompt[key].class_type)),
          class_type: node.class_type,
        };
      }
    }
    if (!Object.values(prompt).some((node) => OUTPUT_NODES.has(node.class_type))) {
      return { status: 400, json: { error: { type: "prompt_no_outputs", message: "Prompt has no outputs", details: "", extra_info: {} }, node_errors: [] } };
    }
    if (Object.keys(nodeErrors).length > 0) {
      return {
        status: 400,
        json: { error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details: "", extra_info: {} }, node_errors: nodeErrors },
      };
    }
    return null;
  }

  const readBody = async (req: IncomingMessage): Promise<any> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return undefined;
    }
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    requests.push({ method: req.method ?? "GET", path: url.pathname, query: url.searchParams });
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "POST" && url.pathname === "/upload/image") {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      let form: FormData | null = null;
      try {
        form = await new Response(Buffer.concat(chunks), { headers: { "content-type": String(req.headers["content-type"] ?? "") } }).formData();
      } catch {
        form = null;
      }
      const image = form?.get("image");
      if (!form || !image || typeof image === "string" || !image.name) {
        res.writeHead(400);
        return res.end();
      }
      const fields: Record<string, string> = {};
      for (const [key, value] of form.entries()) if (typeof value === "string") fields[key] = value;
      const subfolder = fields.subfolder ?? "";
      const name = subfolder ? `${subfolder}/${image.name}` : image.name;
      uploads.set(name, { bytes: new Uint8Array(await image.arrayBuffer()), type: image.type, fields });
      return json(200, { name: image.name, subfolder, type: fields.type ?? "input" });
    }
    if (req.method === "POST" && url.pathname === "/prompt") {
      const body = await readBody(req);
      if (!body || typeof body.prompt !== "object") {
        return json(400, { error: { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} }, node_errors: [] });
      }
      const invalid = validate(body.prompt);
      if (invalid) return json(invalid.status, invalid.json);
      const run: Run = { id: randomUUID(), number: number++, prompt: body.prompt, clientId: String(body.client_id ?? ""), index: prompts.length };
      prompts.push(body);
      queue = queue.then(() => execute(run)).catch(() => undefined);
      return json(200, { prompt_id: run.id, number: run.number, node_errors: {} });
    }
    if (req.method === "GET" && url.pathname.startsWith("/history/")) {
      const id = decodeURIComponent(url.pathname.slice("/history/".length));
      const entry = history.get(id);
      return json(200, entry ? { [id]: entry } : {});
    }
    if (req.method === "GET" && url.pathname === "/view") {
      const key = `${url.searchParams.get("type")}/${url.searchParams.get("subfolder")}/${url.searchParams.get("filename")}`;
      const file = files.get(key);
      if (!file) {
        res.writeHead(404);
        return res.end();
      }
      res.writeHead(200, { "content-type": key.endsWith(".webp") ? "image/webp" : "image/png" });
      return res.end(file);
    }
    if (req.method === "GET" && url.pathname === "/system_stats") {
      return json(200, {
        system: { os: "posix", ram_total: 68719476736, ram_free: 34359738368, comfyui_version: "0.3.43", python_version: "3.12.3", pytorch_version: "2.7.1+cu128", embedded_python: false, argv: ["main.py"] },
        devices: [{ name: "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", type: "cuda", index: 0, vram_total: 25757220864, vram_free: 24000000000, torch_vram_total: 0, torch_vram_free: 0 }],
      });
    }
    if (req.method === "POST" && (url.pathname === "/queue" || url.pathname === "/interrupt")) {
      await readBody(req);
      res.writeHead(200);
      return res.end();
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("404: Not Found");
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/ws") return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clientId = url.searchParams.get("clientId") ?? randomUUID().replaceAll("-", "");
      sockets.set(clientId, ws);
      ws.on("close", () => sockets.get(clientId) === ws && sockets.delete(clientId));
      ws.send(JSON.stringify({ type: "status", data: { status: { exec_info: { queue_remaining: 0 } }, sid: clientId } }));
    });
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    prompts,
    requests,
    previewFrames,
    uploads,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A text-to-image workflow in API format, marked with the placeholders. */
export function markedWorkflow(checkpoint = FAKE_CHECKPOINTS[0]): Record<string, unknown> {
  return {
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: checkpoint }, _meta: { title: "Load Checkpoint" } },
    "5": { class_type: "EmptyLatentImage", inputs: { width: "{{width}}", height: "{{height}}", batch_size: 1 } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: "photo, {{prompt}}", clip: ["4", 1] } },
    "7": { class_type: "CLIPTextEncode", inputs: { text: "{{negative_prompt}}", clip: ["4", 1] } },
    "3": {
      class_type: "KSampler",
      inputs: { seed: "{{seed}}", steps: "{{steps}}", cfg: 7, sampler_name: "euler", scheduler: "normal", denoise: 1, model: ["4", 0], positive: ["6", 0], negative: ["7", 0], latent_image: ["5", 0] },
    },
    "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
    "9": { class_type: "SaveImage", inputs: { filename_prefix: "gems", images: ["8", 0] } },
  };
}

/** An img2img workflow in API format: LoadImage marked {{image}}, the sampler's denoise {{denoise}}. */
export function markedImageWorkflow(checkpoint = FAKE_CHECKPOINTS[0]): Record<string, unknown> {
  return {
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: checkpoint } },
    "10": { class_type: "LoadImage", inputs: { image: "{{image}}", upload: "image" } },
    "11": { class_type: "VAEEncode", inputs: { pixels: ["10", 0], vae: ["4", 2] } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: "{{prompt}}", clip: ["4", 1] } },
    "7": { class_type: "CLIPTextEncode", inputs: { text: "{{negative_prompt}}", clip: ["4", 1] } },
    "3": {
      class_type: "KSampler",
      inputs: { seed: "{{seed}}", steps: "{{steps}}", cfg: 7, sampler_name: "euler", scheduler: "normal", denoise: "{{denoise}}", model: ["4", 0], positive: ["6", 0], negative: ["7", 0], latent_image: ["11", 0] },
    },
    "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
    "9": { class_type: "SaveImage", inputs: { filename_prefix: "gems", images: ["8", 0] } },
  };
}
