import { afterEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { createComfyUiGenerator } from "../../core/models/comfyui-generator.ts";
import { parseComfyWorkflow, type ComfyWorkflow } from "../../core/models/comfyui-workflow.ts";
import { markedImageWorkflow, markedWorkflow, startFakeComfyUi, type FakeComfy } from "../fakes/comfyui-server.ts";
import { JPEG_BYTES, TINY_PNG } from "../fakes/png-fixture.ts";
import { rejectionOf } from "./rejection.ts";

let fake: FakeComfy | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function workflow(nodes: Record<string, unknown>): ComfyWorkflow {
  const parsed = parseComfyWorkflow(JSON.stringify(nodes));
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  return parsed.value.workflow;
}

async function against(withImageWorkflow = true) {
  fake = await startFakeComfyUi();
  const generator = createComfyUiGenerator({
    url: fake.url,
    workflow: workflow(markedWorkflow()),
    ...(withImageWorkflow ? { imageWorkflow: workflow(markedImageWorkflow()) } : {}),
    steps: 2,
    timeoutMs: 5_000,
    maxRetries: 0,
    historyPollMs: 5,
  });
  return { generator, fake };
}

describe("ComfyUI image workflow", () => {
  it("declares edits and references only when an image workflow is configured", async () => {
    expect((await against(false)).generator.capabilities).toEqual({ references: false, edit: false });
    await fake!.close();
    expect((await against(true)).generator.capabilities).toEqual({ references: true, edit: true });
  });

  it("uploads the image to edit through /upload/image and names it in the LoadImage node, with the edit's denoise", async () => {
    const { generator, fake } = await against();
    await generator.generate({ prompt: "a red cube", seed: 4, edit: { image: TINY_PNG, instruction: "make the cube red" }, images: [JPEG_BYTES] });
    const name = `gems-${createHash("sha256").update(TINY_PNG).digest("hex").slice(0, 16)}.png`;
    const upload = fake.uploads.get(name)!;
    expect(upload.bytes).toEqual(TINY_PNG);
    expect(upload.type).toBe("image/png");
    expect(upload.fields).toEqual({ type: "input", overwrite: "true" });
    const queued = fake.prompts[0]!.prompt;
    expect(queued["10"].inputs.image).toBe(name);
    expect(queued["3"].inputs.denoise).toBe(0.5);
    expect(queued["6"].inputs.text).toBe("make the cube red, a red cube");
  });

  it("draws from the first reference with the reference denoise, and without images runs the text workflow", async () => {
    const { generator, fake } = await against();
    await generator.generate({ prompt: "a cube like this", images: [JPEG_BYTES] });
    expect(fake.prompts[0]!.prompt["3"].inputs.denoise).toBe(0.75);
    expect(fake.prompts[0]!.prompt["10"].inputs.image).toMatch(/^gems-[0-9a-f]{16}\.jpg$/);
    await generator.generate({ prompt: "a plain cube" });
    expect(fake.prompts[1]!.prompt["10"]).toBeUndefined();
    expect(fake.prompts[1]!.prompt["5"].class_type).toBe("EmptyLatentImage");
  });

  it("the fake refuses a LoadImage file that was never uploaded, as ComfyUI's validation does", async () => {
    const { fake } = await against();
    const filled = JSON.parse(JSON.stringify(markedImageWorkflow()).replace('"{{image}}"', '"missing.png"').replace(/"\{\{(\w+)\}\}"/g, "1"));
    const response = await fetch(`${fake.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: filled, client_id: "x" }) });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain("Invalid image file: missing.png");
  });

  it("says what the server answered when the upload is refused", async () => {
    const { generator, fake } = await against();
    await fake.close();
    const error = await rejectionOf(generator.generate({ prompt: "x", images: [TINY_PNG] }));
    expect((error as Error).message).toMatch(/ComfyUI server at 127\.0\.0\.1/);
  });

  it("checks the placeholders: {{image}} must be a whole value", () => {
    const nodes = markedImageWorkflow() as Record<string, any>;
    nodes["10"].inputs.image = "dir/{{image}}";
    const parsed = parseComfyWorkflow(JSON.stringify(nodes));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problems[0]).toContain("{{image}} must be the whole value");
  });
});
