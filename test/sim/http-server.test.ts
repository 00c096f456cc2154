import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decomposerMessages, refinerMessages } from "../../core/agent/prompts.ts";
import { isPng, readPngInfo, readPngText } from "../../core/images/png.ts";
import { SCENE_KEY } from "../../servers/sim/rendered-scene.ts";
import { type SimServer, startSimServer } from "../../servers/sim/http-server.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";

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
