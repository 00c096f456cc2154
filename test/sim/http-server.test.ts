import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decomposerMessages, refinerMessages } from "../../core/agent/prompts.ts";
import { isPng, readPngInfo, readPngText } from "../../core/images/png.ts";
import { SCENE_KEY } from "../../servers/sim/rendered-scene.ts";
import { type SimServer, startSimServer } from "../../servers/sim/http-server.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createOpenAiImageGenerator } from "../../core/models/openai-image-generator.ts";

const EXAMPLE = 'three red cubes on the left of a blue sphere, a sign that says "OPEN"';

let server: SimServer;
let small: SimServer;
let client: OpenAI;
const logged: string[] = [];

beforeAll(async () => {
  server = await startSimServer({ port: 0, generator: createSimGenerator({ width: 128, height: 128 }), log: (line) => logged.push(line) });
  small = await startSimServer({ maxBodyBytes: 1000 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  await small?.close();
});

const postJson = (path: string, body: string, target = server) =>
  fetch(`${target.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });

describe("sim HTTP server", () => {
  it("listens on a loopback port and answers the health check", async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
  });

  it("lists the one sim model", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gems-sim"]);
  });

  it("answers chat completions in the real shape", async () => {
    const [system, user] = decomposerMessages(EXAMPLE);
    const completion = await client.chat.completions.create({
      model: "gems-sim",
      messages: [
        { role: "system", content: system!.content as string },
        { role: "user", content: user!.content as string },
      ],
    });
    expect(completion).toMatchObject({ object: "chat.completion", model: "gems-sim", choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant" } }] });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
    expect(JSON.parse(completion.choices[0]!.message.content!).questions).toContain("Are there exactly three cubes?");
  });

  it("reads images sent as data URLs and returns the refiner's reasoning as reasoning_content", async () => {
    const png = await createSimGenerator({ width: 96, height: 96 }).generate({ prompt: EXAMPLE, seed: 3 });
    const dataUrl = `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
    const verify = await client.chat.completions.create({
      model: "gems-sim",
      messages: [
        { role: "system", content: "You are the GEMS verifier. Answer yes or no." },
        { role: "user", content: [{ type: "image_url", image_url: { url: dataUrl } }, { type: "text", text: "## Question\nAre there exactly three cubes?" }] },
      ],
    });
    expect(verify.choices[0]!.message.content).toMatch(/^yes/);

    const [system, user] = refinerMessages({
      request: EXAMPLE,
      checklist: [{ id: 1, question: "Is the sphere blue?" }],
      feedback: [],
      attempts: [{ n: 1, prompt: EXAMPLE, png: null, results: [{ id: 1, question: "Is the sphere blue?", passed: false, why: "it is green" }], experience: null }],
    });
    const text = (user!.content as Array<{ type: string; text?: string }>).map((p) => p.text ?? "").join("\n\n");
    const refine = await client.chat.completions.create({
      model: "gems-sim",
      messages: [
        { role: "system", content: system!.content as string },
        { role: "user", content: text },
      ],
    });
    const message = refine.choices[0]!.message as typeof refine.choices[0]["message"] & { reasoning_content?: string };
    expect(message.content).toMatch(/^PROMPT: blue sphere/m);
    expect(message.reasoning_content).toMatch(/missed 1 of 1/);
  });

  it("answers a bad chat body with 400 in OpenAI's error shape", async () => {
    for (const body of ["not json", JSON.stringify({ messages: [] }), JSON.stringify({ messages: [{ role: "wizard", content: "hi" }] })]) {
      const res = await postJson("/v1/chat/completions", body);
      expect(res.status, body).toBe(400);
      const json = (await res.json()) as { error: { message: string; type: string; code: string | null } };
      expect(json.error.type).toBe("invalid_request_error");
      expect(json.error.message.length).toBeGreaterThan(0);
      expect(json.error).toHaveProperty("code");
    }
    await expect(client.chat.completions.create({ model: "gems-sim", messages: [], stream: false })).rejects.toMatchObject({ status: 400 });
  });

  it("refuses images given as web URLs instead of data URLs", async () => {
    const res = await postJson(
      "/v1/chat/completions",
      JSON.stringify({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }] }] }),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_image_url");
  });

  it("generates images through the OpenAI Images API as b64_json", async () => {
    const result = await client.images.generate({ model: "gems-sim", prompt: EXAMPLE, n: 2, size: "256x256" });
    expect(result.data).toHaveLength(2);
    const pngs = result.data!.map((d) => new Uint8Array(Buffer.from(d.b64_json!, "base64")));
    for (const png of pngs) {
      expect(readPngInfo(png)).toEqual({ width: 256, height: 256 });
      expect(JSON.parse(readPngText(png)[SCENE_KEY]!)).toMatchObject({ generator: "gems-sim", simulated: true });
    }
    expect(Buffer.from(pngs[0]!).equals(Buffer.from(pngs[1]!))).toBe(false);
    await expect(client.images.generate({ prompt: EXAMPLE, response_format: "url" })).rejects.toMatchObject({ status: 400 });
  });

  it("serves the GEMS /generate protocol with the same image as the generator itself", async () => {
    const res = await fetch(`${server.url}/generate?prompt=${encodeURIComponent(EXAMPLE)}&seed=5&width=120&height=80`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    const png = new Uint8Array(await res.arrayBuffer());
    expect(isPng(png)).toBe(true);
    const direct = await createSimGenerator().generate({ prompt: EXAMPLE, seed: 5, width: 120, height: 80 });
    expect(Buffer.from(png).equals(Buffer.from(direct))).toBe(true);
  });

  it("answers /generate without a prompt, or with a bad seed, with 400 and a plain message", async () => {
    const missing = await fetch(`${server.url}/generate`, { method: "POST" });
    expect(missing.status).toBe(400);
    expect(missing.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await missing.text()).toMatch(/Missing the prompt/);
    const badSeed = await fetch(`${server.url}/generate?prompt=a+cube&seed=-1`, { method: "POST" });
    expect(badSeed.status).toBe(400);
    expect(await badSeed.text()).toMatch(/seed/);
  });

  it("rejects bodies over the size limit with 413", async () => {
    const res = await postJson("/v1/chat/completions", JSON.stringify({ messages: [{ role: "user", content: "x".repeat(5000) }] }), small);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("request_too_large");
  });

  it("answers unknown paths with 404 and wrong methods with 405", async () => {
    expect((await fetch(`${server.url}/v1/embeddings`, { method: "POST" })).status).toBe(404);
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
    const wrong = await fetch(`${server.url}/generate?prompt=x`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
  });

  it("logs one line per request", () => {
    expect(logged.some((line) => /^GET \/healthz 200 \d+ms$/.test(line))).toBe(true);
  });
});

describe("sim HTTP server: OpenAI image streaming", () => {
  let drawing: SimServer;
  beforeAll(async () => {
    // 80 ms per image: the sim reports three partial drawings while it waits.
    drawing = await startSimServer({ generator: createSimGenerator({ latencyMs: 80, width: 96, height: 96 }) });
  });
  afterAll(async () => {
    await drawing?.close();
  });

  /** Reads a whole SSE body into its events, checking every block has `event:` and `data:` lines. */
  async function readEvents(res: Response): Promise<Array<{ event: string; data: any }>> {
    const text = await res.text();
    expect(text.endsWith("\n\n")).toBe(true);
    return text
      .split("\n\n")
      .filter((block) => block !== "")
      .map((block) => {
        const lines = block.split("\n");
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(/^event: /);
        expect(lines[1]).toMatch(/^data: /);
        return { event: lines[0]!.slice("event: ".length), data: JSON.parse(lines[1]!.slice("data: ".length)) };
      });
  }

  it("sends partial_images partial images, then the final one, as server-sent events shaped like OpenAI's", async () => {
    const body = { prompt: EXAMPLE, size: "96x96", seed: 4, stream: true, partial_images: 2 };
    const res = await postJson("/v1/images/generations", JSON.stringify(body), drawing);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await readEvents(res);
    expect(events.map((e) => e.event)).toEqual(["image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"]);
    for (const { event, data } of events) {
      expect(data.type).toBe(event);
      expect(data).toMatchObject({ size: "96x96", output_format: "png", quality: "auto", background: "opaque", created_at: expect.any(Number) });
      const png = Buffer.from(data.b64_json, "base64");
      expect(isPng(png)).toBe(true);
      expect(readPngInfo(png)).toEqual({ width: 96, height: 96 });
    }
    expect(events.slice(0, 2).map((e) => e.data.partial_image_index)).toEqual([0, 1]);
    const completed = events[2]!.data;
    expect(completed.partial_image_index).toBeUndefined();
    expect(completed.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number), total_tokens: expect.any(Number), input_tokens_details: { text_tokens: expect.any(Number), image_tokens: 0 } });
    // Partials are drawings in progress (no scene for the verifier); the final one is the image
    // the same request makes without streaming.
    expect(readPngText(Buffer.from(events[0]!.data.b64_json, "base64"))[SCENE_KEY]).toBeUndefined();
    const plain = (await (await postJson("/v1/images/generations", JSON.stringify({ ...body, stream: false }), drawing)).json()) as any;
    expect(completed.b64_json).toBe(plain.data[0].b64_json);
  });

  it("is read by the openai SDK's own stream parser", async () => {
    const sdk = new OpenAI({ baseURL: `${drawing.url}/v1`, apiKey: "x", maxRetries: 0 });
    const stream = await sdk.images.generate({ prompt: "a red cube", model: "gpt-image-1", stream: true, partial_images: 3 });
    const types: string[] = [];
    for await (const event of stream) types.push(`${event.type}${event.type === "image_generation.partial_image" ? `#${event.partial_image_index}` : ""}`);
    expect(types).toEqual(["image_generation.partial_image#0", "image_generation.partial_image#1", "image_generation.partial_image#2", "image_generation.completed"]);
  });

  it("gives the real OpenAI image adapter its partial images as progress, then the same image as without streaming", async () => {
    const generator = createOpenAiImageGenerator({ baseUrl: `${drawing.url}/v1`, model: "gpt-image-1", apiKey: "x", maxRetries: 0, timeoutMs: 10_000 });
    const reports: Array<{ percent: number; preview: Uint8Array | null }> = [];
    const streamed = await generator.generate({ prompt: "a red cube", seed: 2, onProgress: (p) => reports.push(p) });
    expect(reports.length).toBeGreaterThan(0);
    for (const { preview, percent } of reports) {
      expect(isPng(preview!)).toBe(true);
      expect(percent).toBeGreaterThan(0);
      expect(percent).toBeLessThan(100);
    }
    const plain = await generator.generate({ prompt: "a red cube", seed: 2 });
    expect(Buffer.from(streamed).equals(Buffer.from(plain))).toBe(true);
  });

  it("sends only the final image with partial_images 0 or left out", async () => {
    for (const extra of [{ partial_images: 0 }, {}]) {
      const res = await postJson("/v1/images/generations", JSON.stringify({ prompt: "a red cube", stream: true, ...extra }), drawing);
      expect((await readEvents(res)).map((e) => e.event)).toEqual(["image_generation.completed"]);
    }
  });

  it("refuses partial_images outside 0–3 and n above 1 with OpenAI's JSON error, before any event", async () => {
    const tooMany = await postJson("/v1/images/generations", JSON.stringify({ prompt: "a red cube", stream: true, partial_images: 4 }), drawing);
    expect(tooMany.status).toBe(400);
    expect(tooMany.headers.get("content-type")).toBe("application/json");
    expect(((await tooMany.json()) as any).error).toMatchObject({ type: "invalid_request_error", message: "Invalid request body: partial_images: partial_images must be from 0 to 3" });
    const several = await postJson("/v1/images/generations", JSON.stringify({ prompt: "a red cube", stream: true, n: 2 }), drawing);
    expect(several.status).toBe(400);
    expect(((await several.json()) as any).error.message).toBe("Streaming makes one image; send n: 1 with stream: true.");
  });
});
