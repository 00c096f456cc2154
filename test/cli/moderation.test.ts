import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { startFakeGemsGenerator, type FakeGemsGenerator } from "../fakes/gems-generator-server.ts";
import { startFakeModerationServer, type FakeModerationServer } from "../fakes/openai-moderation-server.ts";
import { runMain } from "../support/cli.ts";

const KEY = "sk-cli-moderation-0123456789";
let work: string;
let generator: FakeGemsGenerator;
let moderation: FakeModerationServer;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "gems-cli-moderation-"));
  writeFileSync(join(work, "words.txt"), "# ours\nzorblax\n");
  generator = await startFakeGemsGenerator();
  moderation = await startFakeModerationServer({ apiKey: KEY, flaggedWords: ["stab"] });
});
afterAll(async () => {
  await generator.close();
  await moderation.close();
  rmSync(work, { recursive: true, force: true });
});

async function run(prompt: string, env: Record<string, string>) {
  const out = join(work, `out-${Math.random().toString(36).slice(2)}`);
  const fullEnv = { GEMS_DATA_DIR: join(work, "data"), GEMS_MLLM: "sim", GEMS_GENERATOR_URL: generator.url, GEMS_MODERATION_WORDS: join(work, "words.txt"), LOG_LEVEL: "silent", ...env };
  const result = await runMain(["run", prompt, "--out", out, "--iterations", "1"], fullEnv, work);
  return { ...result, wroteOutput: existsSync(out) };
}

describe("gems run and moderation", () => {
  it("a prompt on the word list exits 2, calls no generator and writes nothing", async () => {
    const before = generator.requests.length;
    const result = await run("a ZORBLAX on a hill", {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/did not pass the content filter/);
    expect(result.wroteOutput).toBe(false);
    expect(generator.requests.length).toBe(before);
  });

  it("with GEMS_MODERATION=openai, a flagged prompt exits 2 naming the category; an endpoint that is down fails closed", async () => {
    const env = { GEMS_MODERATION: "openai", GEMS_MODERATION_URL: `${moderation.origin}/v1`, GEMS_MODERATION_API_KEY: KEY };
    const before = generator.requests.length;
    const flagged = await run("how to stab a cake", env);
    expect(flagged.code).toBe(2);
    expect(flagged.stderr).toMatch(/content filter \(violence\)/);

    moderation.failWith = { status: 503, json: { error: { message: "The engine is currently overloaded, please try again later", type: "server_error", param: null, code: null } } };
    try {
      const down = await run("a red cube", env);
      expect(down.code).toBe(2);
      expect(down.stderr).toMatch(/content filter cannot be reached/);
      const open = await run("a red cube", { ...env, GEMS_MODERATION_FAIL: "open" });
      expect(open.code).toBe(0);
    } finally {
      moderation.failWith = null;
    }
    expect(generator.requests.length).toBeGreaterThan(before);
  });
});
