import { describe, expect, it } from "vitest";
import { modelNamesOf } from "../../bots/model-factory.ts";
import { configLoaderIn } from "../config/load-config.ts";

const { load } = configLoaderIn("/srv/gems");
const port = (name: string, model?: string) => ({ name, chat: async () => ({ content: "", reasoning: null }), ...(model ? { model } : {}) });

describe("the model names written into trajectories and images", () => {
  it("are model names, never the servers' URLs or credentials", () => {
    const config = load({
      GEMS_MLLM_BASE_URL: "http://user:hunter2-secret@10.0.0.5:8000/v1,http://10.0.0.6:8000/v1",
      GEMS_MLLM_API_KEY: "sk-test-abcdefghijklmnopqrstuvwxyz",
      GEMS_GENERATOR: "gems-http",
      GEMS_GENERATOR_URL: "http://admin:pw12345678@10.0.0.7:9000/generate",
    });
    const names = modelNamesOf(config, port("pool[10.0.0.5:8000, 10.0.0.6:8000]", "qwen3-vl"));
    expect(names).toEqual({ mllm: "openai-compatible:qwen3-vl", generator: "gems-http" });
    expect(JSON.stringify(names)).not.toMatch(/10\.0\.0|hunter2|pw1234|sk-/);
  });

  it("name the configured MLLM and image models, and the sim as sim", () => {
    expect(modelNamesOf(load({ GEMS_MLLM_BASE_URL: "http://127.0.0.1:8000/v1", GEMS_MLLM_MODEL: "internvl3", GEMS_GENERATOR: "openai", GEMS_GENERATOR_API_KEY: "sk-abcdefghijklmnopqrstuv", GEMS_GENERATOR_MODEL: "gpt-image-1" }), port("x"))).toEqual({
      mllm: "openai-compatible:internvl3",
      generator: "openai:gpt-image-1",
    });
    expect(modelNamesOf(load({}), port("sim"))).toEqual({ mllm: "sim", generator: "sim" });
  });
});
