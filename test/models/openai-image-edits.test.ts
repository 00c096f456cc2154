import { afterEach, describe, expect, it } from "vitest";
import { createOpenAiImageGenerator, openAiImageCapabilities } from "../../core/models/openai-image-generator.ts";
import { imagesResponse, startFakeOpenAi, type FakeOpenAi } from "../fakes/openai-server.ts";
import { JPEG_BYTES, TINY_PNG, TINY_PNG_BASE64 } from "../fakes/png-fixture.ts";
import { startSimServer, type SimServer } from "../../servers/sim/http-server.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { sceneOfPng } from "../../servers/sim/edit-drawing.ts";
import { readMultipart, type MultipartForm } from "../fakes/multipart.ts";

let fake: FakeOpenAi | undefined;
let sim: SimServer | undefined;
afterEach(async () => {
  await fake?.close();
  await sim?.close();
  fake = undefined;
  sim = undefined;
});

const forms: MultipartForm[] = [];

async function editsGenerator(model = "gpt-image-1") {
  forms.length = 0;
  fake = await startFakeOpenAi({
    edits: (form) => {
      forms.push(form);
      return imagesResponse([TINY_PNG_BASE64]);
    },
  });
  return createOpenAiImageGenerator({ baseUrl: fake.url, apiKey: "sk-edits-test", model, timeoutMs: 2000, maxRetries: 0 });
}

describe("openai image edits", () => {
  it("declares what each model takes: gpt-image edits and takes references, dall-e-2 only edits, dall-e-3 neither", () => {
    expect(openAiImageCapabilities("gpt-image-1")).toEqual({ references: true, edit: true });
    expect(openAiImageCapabilities("dall-e-2")).toEqual({ references: false, edit: true });
    expect(openAiImageCapabilities("dall-e-3")).toEqual({ references: false, edit: false });
  });

  it("sends an edit as multipart to /images/edits: the image to change first, then the references, and the instruction as the prompt", async () => {
    const generator = await editsGenerator();
    const png = await generator.generate({ prompt: "a red cube", edit: { image: TINY_PNG, instruction: "make the cube red" }, images: [JPEG_BYTES] });
    expect(png).toEqual(TINY_PNG);
    const request = fake!.requests.find((r) => r.path === "/v1/images/edits")!;
    expect(String(request.headers["content-type"])).toMatch(/^multipart\/form-data; boundary=/);
    expect(request.headers.authorization).toBe("Bearer sk-edits-test");
    const form = forms[0]!;
    expect(form.fields).toMatchObject({ prompt: "make the cube red", model: "gpt-image-1", n: "1" });
    expect(form.files.map((f) => [f.field, f.type])).toEqual([
      ["image[]", "image/png"],
      ["image[]", "image/jpeg"],
    ]);
    expect(form.files[0]!.bytes).toEqual(TINY_PNG);
    expect(form.files[1]!.bytes).toEqual(JPEG_BYTES);
  });

  it("sends references alone as one `image` with the whole prompt, and draws without images through /images/generations", async () => {
    const generator = await editsGenerator();
    await generator.generate({ prompt: "a cube like this one", images: [TINY_PNG] });
    expect(forms[0]!.fields.prompt).toBe("a cube like this one");
    expect(forms[0]!.files.map((f) => f.field)).toEqual(["image"]);
    await generator.generate({ prompt: "a plain cube" });
    expect(fake!.requests.map((r) => r.path)).toEqual(["/v1/images/edits", "/v1/images/generations"]);
  });

  it("dall-e-3 leaves reference images out instead of sending a request the API refuses", async () => {
    const generator = await editsGenerator("dall-e-3");
    await generator.generate({ prompt: "a cube", images: [TINY_PNG] });
    expect(fake!.requests.map((r) => r.path)).toEqual(["/v1/images/generations"]);
  });

  it("the sim server edits its own drawing over the wire, changing only what the instruction names", async () => {
    sim = await startSimServer({ generator: createSimGenerator({ width: 128, height: 128 }) });
    const generator = createOpenAiImageGenerator({ baseUrl: `${sim.url}/v1`, apiKey: "sk-sim", model: "gpt-image-1", timeoutMs: 5000, maxRetries: 0 });
    const prompt = "a red cube, a blue sphere, a green cone, two yellow stars, a purple heart, an orange car";
    const original = sceneOfPng(await generator.generate({ prompt }))!;
    const source = await createSimGenerator({ width: 128, height: 128 }).generate({ prompt, seed: 5 });
    const before = sceneOfPng(source)!;
    const edited = sceneOfPng(await generator.generate({ prompt, edit: { image: source, instruction: "an orange car" } }))!;
    expect(original.generator).toBe("gems-sim");
    const car = (s: typeof before) => s.objects.find((o) => o.noun === "car");
    expect(car(edited)?.colour).toBe("orange");
    // Everything else is as it was.
    const others = (s: typeof before) => s.objects.filter((o) => o.noun !== "car").map((o) => [o.noun, o.colour, o.count]);
    expect(others(edited)).toEqual(others(before));
  });

  it("the sim server refuses a non-image upload as OpenAI does, naming the formats", async () => {
    sim = await startSimServer();
    const form = new FormData();
    form.append("prompt", "x");
    form.append("image", new Blob([new TextEncoder().encode("not an image")], { type: "text/plain" }), "a.txt");
    const response = await fetch(`${sim.url}/v1/images/edits`, { method: "POST", body: form });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/image\/jpeg', 'image\/png', and 'image\/webp'/);
  });
});

describe("fake OpenAI edits route", () => {
  it("refuses a JSON body as OpenAI does", async () => {
    await editsGenerator();
    const response = await fetch(`${fake!.url}/images/edits`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(400);
    expect(await readMultipart(fake!.requests[0]!)).toBeNull();
  });
});
