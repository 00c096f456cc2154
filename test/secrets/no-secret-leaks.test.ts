/**
 * A failing job per backend, with a recognisable key that the failing server echoes back whole
 * and masked, as real servers and proxies do. Everything the run writes is then searched for
 * the key: stdout, stderr (the log), the output folder, the SQLite file, and what the chat
 * fakes received. Runs the real `gems` bin, at the default log level and at debug.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startLoopbackServer, type FakeReply, type LoopbackServer } from "../fakes/loopback-server.ts";
import { startFakeDiscord } from "../fakes/discord/fake-discord.ts";
import { startFakeSlack } from "../fakes/slack/fake-slack.ts";
import { createSlackSender } from "../fakes/slack/signed-requests.ts";
import { slashCommand } from "../fakes/slack/payloads.ts";
import { freePort, killChildrenAfterAll, runBin as runGemsBin, spawnBin, useWorkDir } from "../support/cli.ts";

const KEY = "sk-leakcheck-7Q2xV9pL4mN8rT6yZ3wB";
/** How the key shows up when a server masks it: OpenAI's stars, an ellipsis, the tail alone. */
const FRAGMENTS = [KEY, KEY.slice(8), KEY.slice(-12), `${KEY.slice(0, 7)}***`, `...${KEY.slice(-4)}`, `***${KEY.slice(-4)}`];

const work = useWorkDir("gems-secrets-");
const trackChild = killChildrenAfterAll();

/** Each family's own error shape, carrying the key as that kind of server or proxy echoes it. */
const ECHOES: Record<string, () => FakeReply> = {
  openai: () => ({
    status: 401,
    json: {
      error: {
        message: `Incorrect API key provided: ${KEY.slice(0, 7)}***********${KEY.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      },
    },
  }),
  vllm: () => ({ status: 400, json: { error: { message: `Invalid header: Authorization: Bearer ${KEY}`, type: "BadRequestError", param: null, code: 400 } } }),
  sglang: () => ({ status: 400, json: { object: "error", message: `Unauthorized key ${KEY} (sk-...${KEY.slice(-4)})`, type: "BadRequestError", param: null, code: 400 } }),
  ollama: () => ({ status: 500, json: { error: { message: `upstream proxy rejected api key ${KEY}`, type: "api_error", param: null, code: null } } }),
};

const servers: LoopbackServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function echoingServer(reply: () => FakeReply): Promise<LoopbackServer> {
  const server = await startLoopbackServer(() => reply());
  servers.push(server);
  return server;
}

const runBin = (args: string[], env: Record<string, string>) => runGemsBin(args, { cwd: work(), env, onSpawn: trackChild });

/** Every file under `dir`, as text (binary files such as SQLite included, byte for byte). */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, text: readFileSync(path).toString("latin1") }];
  });
}

function expectNoKey(where: string, text: string): void {
  for (const fragment of FRAGMENTS) {
    expect(text.includes(fragment), `${where} contains "${fragment}"`).toBe(false);
  }
}

/** Debug prints stacks and every underlying error, so it is the level that could leak most. */
const RUNS: Array<[family: string, level: string]> = [...Object.keys(ECHOES).map((family): [string, string] => [family, "debug"]), ["vllm", "info"]];

describe("no key in anything a failing run writes", () => {
  it.each(RUNS)("MLLM on a %s server that echoes the key (LOG_LEVEL=%s)", async (family, level) => {
    const server = await echoingServer(ECHOES[family]!);
    const out = join(work(), `out-${family}-${level}`);
    const run = await runBin(["run", "a red cube", "--out", out], {
      LOG_LEVEL: level,
      GEMS_MLLM_BASE_URL: `${server.origin}/v1`,
      GEMS_MLLM_MODEL: "m",
      GEMS_MLLM_API_KEY: KEY,
      GEMS_MLLM_MAX_RETRIES: "0",
    });
    expect(run.code).toBe(1);
    // The failure is reported, and the server really did echo the key back.
    expect(run.stdout).toMatch(/failed: The MLLM at 127\.0\.0\.1:\d+ /);
    expect(servers.at(-1)?.requests.length).toBeGreaterThan(0);
    expectNoKey("stdout", run.stdout);
    expectNoKey("stderr", run.stderr);
    for (const file of filesUnder(out)) expectNoKey(file.path, file.text);
  });

  it("OpenAI image generator that echoes the key (LOG_LEVEL=debug)", async () => {
    const level = "debug";
    const server = await echoingServer(ECHOES["vllm"]!);
    const out = join(work(), `out-images-${level}`);
    const run = await runBin(["run", "a red cube", "--out", out, "--iterations", "1"], {
      LOG_LEVEL: level,
      GEMS_MLLM: "sim",
      GEMS_GENERATOR: "openai",
      GEMS_GENERATOR_URL: `${server.origin}/v1`,
      GEMS_GENERATOR_API_KEY: KEY,
      GEMS_GENERATOR_MAX_RETRIES: "0",
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/failed: The image generator at/);
    expectNoKey("stdout", run.stdout);
    expectNoKey("stderr", run.stderr);
    for (const file of filesUnder(out)) expectNoKey(file.path, file.text);
  });
});

const SIGNING_SECRET = "leakcheck-signing-secret-5d1c";

describe("no key or bot token in what gems serve writes", () => {
  // A child process that compiles the project on start: slow on a loaded machine, hence the long timeout.
  it("keeps them out of the log, the SQLite file and every Discord and Slack message when jobs fail", { timeout: 120_000 }, async () => {
    const mllm = await echoingServer(ECHOES["vllm"]!);
    const discord = await startFakeDiscord();
    const slack = await startFakeSlack();
    const slackPort = await freePort();
    const dataDir = join(work(), "data-serve");
    try {
      const child = spawnBin(["serve"], {
        cwd: work(),
        env: {
          LOG_LEVEL: "debug",
          GEMS_DATA_DIR: dataDir,
          GEMS_WEB_PORT: "0",
          GEMS_MLLM_BASE_URL: `${mllm.origin}/v1`,
          GEMS_MLLM_MODEL: "m",
          GEMS_MLLM_API_KEY: KEY,
          GEMS_MLLM_MAX_RETRIES: "0",
          GEMS_OUTAGE_BUDGET_MS: "0",
          DISCORD_TOKEN: discord.token,
          DISCORD_APPLICATION_ID: discord.applicationId,
          DISCORD_GUILD_ID: discord.guildId,
          DISCORD_API_URL: discord.apiUrl,
          SLACK_BOT_TOKEN: slack.botToken,
          SLACK_SIGNING_SECRET: SIGNING_SECRET,
          SLACK_API_URL: slack.apiUrl,
          SLACK_PORT: String(slackPort),
        },
      });
      trackChild(child);
      let log = "";
      child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
      child.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
      const exited = new Promise<number | null>((done) => child.once("exit", done));
      await discord
        .waitFor(() => /connected to Discord and Slack/.test(log), "the bots to connect", 60_000)
        .catch((error: unknown) => {
          throw new Error(`${String(error)}; serve printed:\n${log}`);
        });

      await discord.answer(discord.command(discord.user("ada", "Ada"), "create", { prompt: "a red cube", iterations: 1 }), 30_000);
      const failure = await discord.waitFor(
        () => discord.calls.find((c) => JSON.stringify(c.body ?? "").includes("rejected the request (400)")),
        "the failure in the job's thread",
        30_000,
      );
      expect(JSON.stringify(failure.body)).toContain("[redacted]");

      const sender = createSlackSender(`http://127.0.0.1:${slackPort}/slack/events`, SIGNING_SECRET);
      expect((await sender.command(slashCommand(slack, "a red cube --iterations 1", { id: "U0ADA", name: "ada" }, "C0ART"))).status).toBe(200);
      await slack.waitFor(
        "the failure in the Slack thread",
        () => slack.calls.find((c) => JSON.stringify(c.args).includes("rejected the request (400)")),
        30_000,
      );
      child.kill("SIGTERM");
      expect(await exited).toBe(0);

      const secrets = [...FRAGMENTS, discord.token, slack.botToken, SIGNING_SECRET];
      const check = (where: string, text: string) => {
        for (const secret of secrets) expect(text.includes(secret), `${where} contains "${secret}"`).toBe(false);
      };
      check("the log", log);
      const stored = filesUnder(dataDir);
      expect(stored.some((f) => f.path.endsWith(".sqlite"))).toBe(true);
      for (const file of stored) check(file.path, file.text);
      // The token rightly travels in the Authorization header; it must never be in a body.
      for (const call of discord.calls) check(`Discord ${call.method} ${call.path}`, JSON.stringify(call.body ?? ""));
      // Slack authenticates by the token (header, or a `token` argument Bolt adds); every other
      // argument and every message must not carry one.
      for (const call of slack.calls) {
        const { token: _authentication, ...args } = call.args;
        check(`Slack ${call.method}`, JSON.stringify(args));
      }
      check("Slack messages", JSON.stringify(slack.messages));
    } finally {
      await discord.close();
      await slack.close();
    }
  });
});
