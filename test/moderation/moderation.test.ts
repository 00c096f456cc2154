import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../core/logger.ts";
import { createModerationStep, type Moderator } from "../../core/moderation/moderator.ts";
import { createOpenAiModerator } from "../../core/moderation/openai-moderation.ts";
import { DEFAULT_BLOCKED_WORDS, createWordListModerator, parseWordList } from "../../core/moderation/word-list.ts";
import { BackendError } from "../../core/errors.ts";
import { startFakeModerationServer, type FakeModerationServer } from "../fakes/openai-moderation-server.ts";
import { TINY_PNG } from "../fakes/png-fixture.ts";

const KEY = "sk-moderation-test-0123456789abcdef";

describe("the word list", () => {
  const words = createWordListModerator(["gore", "blood bath", "naïve art"]);

  it("matches whole words in any case, and phrases across spacing and punctuation", async () => {
    expect(await words.check({ text: "A GORE scene" })).toEqual({ flagged: true, categories: ["word-list"] });
    expect(await words.check({ text: "a blood   bath at dawn" })).toMatchObject({ flagged: true });
    expect(await words.check({ text: "a blood-bath" })).toMatchObject({ flagged: true });
    expect(await words.check({ text: "NAÏVE ART of a fox" })).toMatchObject({ flagged: true });
  });

  it("does not match inside other words", async () => {
    expect(await words.check({ text: "a gorilla eating a gorgeous pear" })).toEqual({ flagged: false });
    expect(await words.check({ text: "bloodbath" })).toEqual({ flagged: false });
  });

  it("reads a file of one entry a line, skipping comments and blank lines; the default list is not empty", () => {
    expect(parseWordList("# team list\n\ngore\r\n  blood bath  \n")).toEqual(["gore", "blood bath"]);
    expect(DEFAULT_BLOCKED_WORDS.length).toBeGreaterThan(3);
  });
});

describe("OpenAI's moderation endpoint", () => {
  let fake: FakeModerationServer;
  beforeAll(async () => {
    fake = await startFakeModerationServer({ apiKey: KEY, flaggedWords: ["stab"] });
  });
  afterAll(() => fake.close());
  const moderator = () => createOpenAiModerator({ baseUrl: `${fake.origin}/v1`, apiKey: KEY });

  it("sends omni-moderation-latest with text and image parts, and reads the flagged categories", async () => {
    const marked = new Uint8Array([...TINY_PNG, ...Buffer.from("FLAGME")]);
    expect(await moderator().check({ text: "a calm lake" })).toEqual({ flagged: false });
    expect(await moderator().check({ text: "someone to stab" })).toEqual({ flagged: true, categories: ["violence"] });
    expect(await moderator().check({ text: "a calm lake", images: [{ mimeType: "image/png", data: marked }] })).toEqual({ flagged: true, categories: ["sexual"] });
    const last = fake.requests.at(-1);
    expect(last?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(last?.body.model).toBe("omni-moderation-latest");
    expect(last?.body.input[0]).toEqual({ type: "text", text: "a calm lake" });
    expect(last?.body.input[1].type).toBe("image_url");
    expect(last?.body.input[1].image_url.url).toMatch(/^data:image\/png;base64,/);
  });

  it("turns errors into BackendErrors with the server's words, never the key", async () => {
    const wrong = createOpenAiModerator({ baseUrl: `${fake.origin}/v1`, apiKey: `${KEY}-wrong` });
    const error = await wrong.check({ text: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toContain("HTTP 401");
    expect((error as Error).message).not.toContain(KEY);

    fake.failWith = { status: 500, json: { error: { message: "The server had an error while processing your request.", type: "server_error", param: null, code: null } } };
    try {
      await expect(moderator().check({ text: "x" })).rejects.toThrow(/HTTP 500: The server had an error/);
    } finally {
      fake.failWith = null;
    }
    await expect(createOpenAiModerator({ baseUrl: "http://127.0.0.1:1/v1", apiKey: KEY }).check({ text: "x" })).rejects.toThrow(/could not be reached/);
  });
});

describe("the moderation step", () => {
  const logs: string[] = [];
  const logger = createLogger("debug", { write: (line: string) => void logs.push(line) });
  const down: Moderator = {
    name: "openai",
    check: async () => {
      throw new BackendError("The moderation endpoint answered HTTP 503.", "moderation");
    },
  };
  const words = createWordListModerator(["gore"]);

  it("fails closed by default: an unreachable endpoint refuses, and says it was an outage", async () => {
    const step = createModerationStep([words, down], "closed", logger);
    expect(await step.check({ text: "a red cube" })).toEqual({ ok: false, by: "openai", categories: [], isOutage: true });
    expect(logs.some((l) => l.includes("moderation could not be checked"))).toBe(true);
  });

  it("fails open when asked: the word list still decides", async () => {
    const step = createModerationStep([words, down], "open", logger);
    expect(await step.check({ text: "a red cube" })).toEqual({ ok: true });
    expect(await step.check({ text: "gore" })).toEqual({ ok: false, by: "word-list", categories: ["word-list"], isOutage: false });
  });
});
