/**
 * A loopback AUTOMATIC1111 webui API (`--api`), shaped like modules/api/api.py:
 * - `POST /sdapi/v1/txt2img` draws one image at a time (the real server holds a queue lock),
 *   taking `steps × stepMs`, and answers `{images: [base64], parameters, info}`;
 * - `GET /sdapi/v1/progress` answers `{progress, eta_relative, state, current_image, textinfo}`,
 *   with `current_image` a base64 JPEG preview once a step is done (`null` with
 *   `skip_current_image=true`), and `progress: 0, state.job_count: 0` when idle;
 * - `GET /sdapi/v1/options` answers `{sd_model_checkpoint, …}`;
 * - errors as its middleware sends them: `{error, detail, body, errors}` with the status, and
 *   FastAPI's `{detail: [{loc, msg, type}]}` 422 for a body that fails validation.
 *
 *   const a1111 = await startFakeA1111({ stepMs: 5, fail: (body, i) => i === 0 ? a1111Error(500, "OutOfMemoryError", "CUDA out of memory") : undefined });
 */
import sharp from "sharp";
import { startLoopbackServer, type FakeReply, type RecordedRequest } from "./loopback-server.ts";

export interface FakeA1111Options {
  /** Wall time per sampling step; default 2 ms. */
  stepMs?: number;
  /** Steps when the request gives none (A1111's default is 20); default 4 here to keep tests fast. */
  defaultSteps?: number;
  /** Answer this instead of drawing (index counts txt2img calls from 0). */
  fail?: (body: any, index: number) => FakeReply | undefined;
  checkpoint?: string;
}

export interface FakeA1111 {
  url: string;
  requests: RecordedRequest[];
  /** The txt2img bodies, in arrival order. */
  txt2img: any[];
  /** The img2img bodies, in arrival order. */
  img2img: any[];
  /** How many progress answers carried a preview image. */
  previewsServed: number;
  close(): Promise<void>;
}

export function a1111Error(status: number, error: string, errors: string, detail = ""): FakeReply {
  return { status, json: { error, detail, body: "", errors } };
}

const solid = async (rgb: [number, number, number], format: "png" | "jpeg", size = 16): Promise<Uint8Array> =>
  new Uint8Array(
    await sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
      [format]()
      .toBuffer(),
  );

export async function startFakeA1111(options: FakeA1111Options = {}): Promise<FakeA1111> {
  const stepMs = options.stepMs ?? 2;
  const txt2img: any[] = [];
  const img2img: any[] = [];
  const idle = { job: "", job_count: 0, job_no: 0, sampling_step: 0, sampling_steps: 0, skipped: false, interrupted: false, job_timestamp: "0" };
  let state = { ...idle };
  let startedAt = 0;
  let preview: string | null = null;
  let lock: Promise<void> = Promise.resolve();
  const fake: FakeA1111 = { url: "", requests: [], txt2img, img2img, previewsServed: 0, close: async () => {} };

  const server = await startLoopbackServer(async (request) => {
    if (request.method === "GET" && request.path === "/sdapi/v1/progress") {
      if (state.job_count === 0) return { json: { progress: 0, eta_relative: 0, state, current_image: null, textinfo: null } };
      const progress = Math.min(1, state.sampling_step / Math.max(1, state.sampling_steps));
      const elapsed = (Date.now() - startedAt) / 1000;
      const skip = request.query.get("skip_current_image") === "true";
      if (!skip && preview) fake.previewsServed++;
      return {
        json: {
          progress,
          eta_relative: progress > 0 ? elapsed / progress - elapsed : 0,
          state,
          current_image: skip ? null : preview,
          textinfo: null,
        },
      };
    }
    if (request.method === "GET" && request.path === "/sdapi/v1/options") {
      return { json: { sd_model_checkpoint: options.checkpoint ?? "sd_xl_base_1.0.safetensors [31e35c80fc]", samples_format: "png" } };
    }
    const isImg2img = request.path === "/sdapi/v1/img2img";
    if (request.path !== "/sdapi/v1/txt2img" && !isImg2img) return { status: 404, json: { detail: "Not Found" } };
    if (request.method !== "POST") return { status: 405, json: { detail: "Method Not Allowed" } };
    const body = request.body;
    if (!body || typeof body !== "object" || (body.prompt !== undefined && typeof body.prompt !== "string")) {
      return { status: 422, json: { detail: [{ loc: ["body", "prompt"], msg: "str type expected", type: "type_error.str" }] } };
    }
    if (isImg2img) {
      // api.py: no init_images is a 404; an image that does not decode is a 500 from decode_base64_to_image.
      if (!Array.isArray(body.init_images)) return a1111Error(404, "HTTPException", "", "Init image not found");
      for (const encoded of body.init_images) {
        try {
          await sharp(Buffer.from(String(encoded).replace(/^data:image\/\w+;base64,/, ""), "base64")).metadata();
        } catch {
          return a1111Error(500, "HTTPException", "", "Invalid encoded image");
        }
      }
      img2img.push(body);
    }
    const index = txt2img.length + img2img.length - (isImg2img ? 1 : 0);
    if (!isImg2img) txt2img.push(body);
    const failure = options.fail?.(body, index);
    if (failure) return failure;

    // One image at a time, like the real server's queue lock.
    const previous = lock;
    let release = () => {};
    lock = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      const steps = typeof body.steps === "number" ? body.steps : (options.defaultSteps ?? 4);
      state = { ...idle, job: "txt2img", job_count: 1, sampling_steps: steps, job_timestamp: String(Date.now()) };
      startedAt = Date.now();
      for (let step = 1; step <= steps; step++) {
        await new Promise((resolve) => setTimeout(resolve, stepMs));
        state = { ...state, sampling_step: step };
        preview = Buffer.from(await solid([step * 20, 0, 0], "jpeg", 8)).toString("base64");
      }
      const image = await solid([0, 128, 255], "png");
      return {
        json: {
          images: [Buffer.from(image).toString("base64")],
          parameters: body,
          info: JSON.stringify({ prompt: body.prompt, seed: body.seed === -1 ? 1234 : body.seed, steps }),
        },
      };
    } finally {
      state = { ...idle };
      preview = null;
      release();
    }
  });
  fake.url = server.origin;
  fake.requests = server.requests;
  fake.close = server.close;
  return fake;
}
