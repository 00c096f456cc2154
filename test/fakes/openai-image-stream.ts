/**
 * The Images API's streamed answer (`stream: true`, `partial_images: N`) as server-sent events:
 * `event: image_generation.partial_image` per partial, then `event: image_generation.completed`,
 * each `data:` line one JSON object with `type`, `b64_json` and the image settings. Use it as a
 * reply in startFakeOpenAi's `images` script.
 */
import type { FakeReply } from "./loopback-server.ts";

const SETTINGS = { background: "opaque", output_format: "png", quality: "low", size: "1024x1024" } as const;

export function imagesStreamReply(partialsB64: string[], finalB64: string | null): FakeReply {
  const events = partialsB64.map((b64_json, index) =>
    sse("image_generation.partial_image", { type: "image_generation.partial_image", b64_json, created_at: 1_735_689_600, partial_image_index: index, ...SETTINGS }),
  );
  if (finalB64 !== null) {
    events.push(
      sse("image_generation.completed", {
        type: "image_generation.completed",
        b64_json: finalB64,
        created_at: 1_735_689_601,
        ...SETTINGS,
        usage: { input_tokens: 10, output_tokens: 272 + 100 * partialsB64.length, total_tokens: 282 + 100 * partialsB64.length, input_tokens_details: { image_tokens: 0, text_tokens: 10 } },
      }),
    );
  }
  return { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" }, body: events.join("") };
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
