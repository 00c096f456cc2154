import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../core/errors.ts";
import { discoverModelName } from "../../core/models/discover-model.ts";
import { startLoopbackServer, type LoopbackServer } from "../fakes/loopback-server.ts";
import { rejectionOf } from "./rejection.ts";

const KEY = "sk-discover-0123456789abcdef";
let server: LoopbackServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("asking the server which model it serves", () => {
  it("takes the first model vLLM or sglang lists", async () => {
    server = await startLoopbackServer(() => ({ json: { object: "list", data: [{ id: "Qwen/Qwen3-VL-8B-Thinking", object: "model" }] } }));
    expect(await discoverModelName(`${server.origin}/v1`, KEY)).toBe("Qwen/Qwen3-VL-8B-Thinking");
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it("says to check the key, not the model name, when the server refuses it", async () => {
    // vLLM started with --api-key answers a wrong key this way.
    server = await startLoopbackServer(() => ({ status: 401, json: { error: "Unauthorized" } }));
    const error = await rejectionOf(discoverModelName(`${server.origin}/v1`, KEY));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/^GEMS_MLLM_API_KEY: the server at 127\.0\.0\.1:\d+ refused the key \(401\).* Check the key/);
    expect(error.message).not.toContain("GEMS_MLLM_MODEL");
    expect(error.message).not.toContain(KEY);
  });

  it("suggests setting the model name when the server cannot list models", async () => {
    server = await startLoopbackServer(() => ({ status: 404, json: { detail: "Not Found" } }));
    const error = await rejectionOf(discoverModelName(`${server.origin}/v1`, undefined));
    expect(error.message).toMatch(/^GEMS_MLLM_MODEL: not set, .*could not list models \(HTTP 404\)\. Set GEMS_MLLM_MODEL/);
  });
});
