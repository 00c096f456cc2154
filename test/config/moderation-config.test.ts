import { describe, expect, it } from "vitest";
import { configLoaderIn } from "./load-config.ts";

const { load } = configLoaderIn("/srv/gems");

describe("moderation settings", () => {
  it("default to the built-in word list, failing closed", () => {
    expect(load({}).moderation).toEqual({ wordsFile: undefined, openai: null, failMode: "closed" });
  });

  it("openai takes its own key or OPENAI_API_KEY, and a words file relative to the working directory", () => {
    const config = load({ GEMS_MODERATION: "openai", OPENAI_API_KEY: "sk-shared-key-1234567890", GEMS_MODERATION_WORDS: "lists/words.txt", GEMS_MODERATION_FAIL: "open" });
    expect(config.moderation).toEqual({
      wordsFile: "/srv/gems/lists/words.txt",
      openai: { baseUrl: "https://api.openai.com/v1", apiKey: "sk-shared-key-1234567890", model: undefined },
      failMode: "open",
    });
  });

  it("stops start-up with one line for openai without a key, and for an unknown fail mode", () => {
    expect(() => load({ GEMS_MODERATION: "openai" })).toThrow("GEMS_MODERATION: openai needs GEMS_MODERATION_API_KEY or OPENAI_API_KEY (got neither). Example: GEMS_MODERATION_API_KEY=<your OpenAI API key>");
    expect(() => load({ GEMS_MODERATION_FAIL: "maybe" })).toThrow(/^GEMS_MODERATION_FAIL: .*\(got "maybe"\)\. Example: GEMS_MODERATION_FAIL=closed$/m);
  });
});
