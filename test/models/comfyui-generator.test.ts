import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../../core/errors.ts";
import { readImageInfo } from "../../core/images/sharp-images.ts";
import { createComfyUiGenerator, previewOf, type ComfyUiGeneratorConfig } from "../../core/models/comfyui-generator.ts";
import { fillWorkflow, parseComfyWorkflow, type ComfyWorkflow } from "../../core/models/comfyui-workflow.ts";
import type { ImageProgress } from "../../core/models/ports.ts";
import { markedWorkflow, startFakeComfyUi, type FakeComfy, type FakeComfyOptions } from "../fakes/comfyui-server.ts";
import { recordingSleep, rejectionOf } from "./rejection.ts";

let fake: FakeComfy | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function workflow(nodes: Record<string, unknown> = markedWorkflow()): ComfyWorkflow {
  const parsed = parseComfyWorkflow(JSON.stringify(nodes));
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  return parsed.value.workflow;
}

async function against(options: FakeComfyOptions = {}, config: Partial<ComfyUiGeneratorConfig> = {}) {
  fake = await startFakeComfyUi(options);
  const { sleep, delays } = recordingSleep();
  const generator = createComfyUiGenerator({
    url: fake.url,
    workflow: workflow(),
    negativePrompt: "blurry",
    steps: 4,
    size: { width: 768, height: 512 },
    timeoutMs: 5_000,
    maxRetries: 2,
    historyPollMs: 5,
    retry: { baseDelayMs: 1, maxDelayMs: 5, sleep },
    ...config,
  });
  return { generator, delays, fake };
}

describe("ComfyUI workflow placeholders", () => {
  it("fills prompt, negative prompt, seed, size and steps into the marked inputs only", () => {
    const filled = fillWorkflow(workflow(), { prompt: 'a "red" cube $&', negativePrompt: "blurry", seed: 7, width: 640, height: 480, steps: 12 });
    expect(filled["6"]?.inputs["text"]).toBe('photo, a "red" cube $&');
    expect(filled["7"]?.inputs["text"]).toBe("blurry");
    expect(filled["3"]?.inputs).toMatchObject({ seed: 7, steps: 12, cfg: 7, model: ["4", 0] });
    expect(filled["5"]?.inputs).toMatchObject({ width: 640, height: 480, batch_size: 1 });
    expect(workflow()["6"]?.inputs["text"]).toBe("photo, {{prompt}}");
  });

  it("gives one line per problem in a workflow that will not do", () => {
    const nodes = markedWorkflow() as Record<string, any>;
    nodes["6"].inputs.text = "a {{subject}}";
    nodes["3"].inputs.seed = "seed {{seed}}";
    delete nodes["5"].inputs.height;
    const parsed = parseComfyWorkflow(JSON.stringify(nodes));
    expect(parsed.ok).toBe(false);
    const problems = parsed.ok ? [] : parsed.problems;
    expect(problems).toEqual([
      'node "3" (KSampler) input "seed": {{seed}} must be the whole value (it is a number), got "seed {{seed}}"',
      'node "6" (CLIPTextEncode) input "text": unknown placeholder {{subject}}; use one of {{prompt}}, {{negative_prompt}}, {{image}}, {{seed}}, {{width}}, {{height}}, {{steps}}, {{denoise}}',
      'has no {{prompt}} placeholder; write "{{prompt}}" as the text of your positive prompt node (e.g. CLIPTextEncode)',
      "uses only one of {{width}} and {{height}}; mark both, or neither",
    ]);
  });

  it("tells a workflow saved in UI format from one in API format", () => {
    const parsed = parseComfyWorkflow(JSON.stringify({ last_node_id: 9, nodes: [], links: [] }));
    expect(parsed.ok ? [] : parsed.problems).toEqual([
      'is in ComfyUI\'s UI format (it has "nodes" and "links"); save it with Workflow → Export (API) instead',
    ]);
    expect(parseComfyWorkflow("{oops").ok).toBe(false);
  });
});

describe("ComfyUI generator", () => {
  it("queues the filled workflow with its client id and returns the saved image from /history and /view", async () => {
    const { generator, fake } = await against({ outputFormat: "webp" });
    const image = await generator.generate({ prompt: "a red cube", seed: 42 });
    expect(await readImageInfo(image)).toMatchObject({ contentType: "image/webp", width: 32 });
    const queued = fake.prompts[0]!;
    expect(queued.client_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(queued.prompt["6"].inputs.text).toBe("photo, a red cube");
    expect(queued.prompt["3"].inputs).toMatchObject({ seed: 42, steps: 4 });
    expect(queued.prompt["5"].inputs).toMatchObject({ width: 768, height: 512 });
    const view = fake.requests.find((r) => r.path === "/view");
    expect(view?.query.get("type")).toBe("output");
    expect(view?.query.get("subfolder")).toBe("gems");
    expect(fake.requests.some((r) => r.path.startsWith("/history/"))).toBe(true);
  });

  it("reports each sampler step's percent and the binary JPEG previews", async () => {
    const { generator, fake } = await against({ stepMs: 5 });
    const reports: ImageProgress[] = [];
    await generator.generate({ prompt: "a cat", onProgress: (p) => reports.push({ ...p }) });
    expect(reports.filter((r) => r.preview === null).map((r) => r.percent)).toEqual([25, 50, 75, 100]);
    const previews = reports.filter((r) => r.preview !== null);
    expect(previews).toHaveLength(fake.previewFrames.length);
    expect(previews[0]?.percent).toBe(25);
    expect((await readImageInfo(previews[0]!.preview!)).contentType).toBe("image/jpeg");
  });

  it("reads PNG previews and metadata preview frames, and ignores other binary frames", async () => {
    const { generator } = await against({ previewFormat: "png" });
    const reports: ImageProgress[] = [];
    await generator.generate({ prompt: "a cat", onProgress: (p) => reports.push(p) });
    const preview = reports.find((r) => r.preview)?.preview;
    expect((await readImageInfo(preview!)).contentType).toBe("image/png");

    const metadata = Buffer.from(JSON.stringify({ node_id: "3", prompt_id: "x" }));
    const header = Buffer.alloc(8);
    header.writeUInt32BE(4, 0);
    header.writeUInt32BE(metadata.byteLength, 4);
    expect(previewOf(Buffer.concat([header, metadata, Buffer.from(preview!)]))).toEqual(preview);
    const text = Buffer.alloc(8);
    text.writeUInt32BE(3, 0);
    expect(previewOf(Buffer.concat([text, Buffer.from("hello")]))).toBeNull();
  });

  it("brings a node error from POST /prompt back in one line, without retrying", async () => {
    const { generator, fake } = await against({}, { workflow: workflow(markedWorkflow("missing.safetensors")) });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error).toBeInstanceOf(BackendError);
    expect(error.message).toMatch(
      /^The ComfyUI server at 127\.0\.0\.1:\d+ rejected the request \(400\): Prompt outputs failed validation; node 4 \(CheckpointLoaderSimple\): Value not in list: ckpt_name: 'missing\.safetensors' not in/,
    );
    expect(error.message).not.toContain("\n");
    expect(fake.prompts).toHaveLength(0);
    expect(fake.requests.filter((r) => r.path === "/prompt")).toHaveLength(1);
  });

  it("brings an execution_error back in one line naming the node and the exception", async () => {
    const { generator } = await against({ trouble: () => "execution_error" });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toMatch(
      /^The ComfyUI server at 127\.0\.0\.1:\d+ failed in node 3 \(KSampler\): torch\.OutOfMemoryError: CUDA out of memory\. Tried to allocate 20\.00 MiB$/,
    );
  });

  it("says so when someone interrupts the workflow on the server", async () => {
    const { generator } = await against({ trouble: () => "interrupted" });
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toMatch(/interrupted the workflow in node 3 \(someone cancelled it on the server\)/);
  });

  it("finishes from /history when the socket drops mid-run, without queueing twice", async () => {
    const { generator, fake } = await against({ stepMs: 10, trouble: () => "drop-socket" });
    const image = await generator.generate({ prompt: "a cat" });
    expect(await readImageInfo(image)).toMatchObject({ contentType: "image/png" });
    expect(fake.prompts).toHaveLength(1);
  });

  it("retries when the server is down and fails in one line after the attempts", async () => {
    const { generator, fake, delays } = await against();
    await fake.close();
    const error = await rejectionOf(generator.generate({ prompt: "a cat" }));
    expect(error.message).toMatch(/^The ComfyUI server at 127\.0\.0\.1:\d+ did not answer after 3 attempts: could not open its websocket \(ECONNREFUSED\)/);
    expect(delays).toHaveLength(2);
  });

  it("drops a cancelled prompt from the server's queue", async () => {
    const { generator, fake } = await against({ stepMs: 50 });
    const controller = new AbortController();
    const running = generator.generate({ prompt: "a cat", signal: controller.signal, onProgress: () => controller.abort() });
    await rejectionOf(running);
    await expect.poll(() => fake.requests.some((r) => r.path === "/queue")).toBe(true);
    expect(fake.requests.some((r) => r.path === "/interrupt")).toBe(true);
  });
});
