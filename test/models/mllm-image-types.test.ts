import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { createOpenAiCompatibleMllm } from "../../core/models/openai-compatible-mllm.ts";
import { startFakeOpenAi, type FakeOpenAi } from "../fakes/openai-server.ts";

let fake: FakeOpenAi | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe("images from real generators reach the MLLM under their own type", () => {
  it("sends JPEG and WebP as data:image/jpeg and data:image/webp URIs", async () => {
    fake = await startFakeOpenAi();
    const mllm = createOpenAiCompatibleMllm({ baseUrl: fake.url, model: "qwen3-vl", timeoutMs: 5_000, maxRetries: 0 });
    const base = sharp({ create: { width: 8, height: 8, channels: 3, background: "red" } });
    const jpeg = new Uint8Array(await base.clone().jpeg().toBuffer());
    const webp = new Uint8Array(await base.clone().webp().toBuffer());
    await mllm.chat({ messages: [{ role: "user", content: [{ type: "image", png: jpeg }, { type: "image", png: webp }] }] });
    const urls = fake.requests[0]?.body.messages[0].content.map((part: { image_url: { url: string } }) => part.image_url.url);
    expect(urls).toEqual([
      `data:image/jpeg;base64,${Buffer.from(jpeg).toString("base64")}`,
      `data:image/webp;base64,${Buffer.from(webp).toString("base64")}`,
    ]);
  });
});
