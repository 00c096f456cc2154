import { describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { startFakeSlack } from "../fakes/slack/fake-slack.ts";
import { createSlackSender } from "../fakes/slack/signed-requests.ts";
import { slashCommand } from "../fakes/slack/payloads.ts";
import { startFakeDiscord } from "../fakes/discord/fake-discord.ts";
import { freePort, killChildrenAfterAll, spawnBin, startServing, useWorkDir, type Served } from "../support/cli.ts";

const work = useWorkDir("gems-serve-");
const trackChild = killChildrenAfterAll();

/** Starts `gems serve` and resolves once it prints the studio's address. */
const startServe = (dataDir: string, env: Record<string, string> = {}): Promise<Served> =>
  startServing(["serve"], { cwd: work(), env: { GEMS_DATA_DIR: dataDir, GEMS_WEB_PORT: "0", GEMS_SIM_LATENCY_MS: "40", ...env }, onSpawn: trackChild });

async function submit(url: string, prompt: string, iterations = 3): Promise<string> {
  const response = await fetch(`${url}/api/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt, iterations, name: "Ada" }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { jobId: string }).jobId;
}

async function job(url: string, jobId: string): Promise<any> {
  const response = await fetch(`${url}/api/jobs/${jobId}`);
  return ((await response.json()) as { job: unknown }).job;
}

/** Polls the studio's API: the process under test is another process, so there is no event to await. */
async function waitFor<T>(read: () => Promise<T>, isReady: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (isReady(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("gems serve", () => {
  it("says where the studio is, runs jobs submitted there, and drains on SIGTERM", async () => {
    const served = await startServe(join(work(), "data-1"));
    expect(served.output()).toContain("using the simulated MLLM and image generator");
    expect(served.output()).toContain("no chat platform is configured");
    expect(await (await fetch(`${served.url}/healthz`)).text()).toMatch(/ok/);

    const jobId = await submit(served.url, "two green balls above a red cube");
    const done = await waitFor(() => job(served.url, jobId), (j) => j.status === "done");
    expect(done.iterations).toBeGreaterThanOrEqual(1);

    served.child.kill("SIGTERM");
    expect(await served.exited).toBe(0);
    expect(served.output()).toContain("gems: stopped.");
  });

  it("resumes an unfinished job after kill -9 without repeating an iteration", async () => {
    const dataDir = join(work(), "data-2");
    const first = await startServe(dataDir, { GEMS_SIM_LATENCY_MS: "150" });
    const jobId = await submit(first.url, 'three green cones left of two yellow cubes, a sign that says "HELLO"', 5);
    // Killed as soon as the first image exists: its verification is still to come.
    const before = await waitFor(() => job(first.url, jobId), (j) => j.trajectory.iterations.some((it: any) => it.imageHash !== null));
    first.child.kill("SIGKILL");
    expect(before.status).toBe("running");
    await first.exited;

    const second = await startServe(dataDir, { GEMS_SIM_LATENCY_MS: "10" });
    expect(second.output()).toContain("resumed 1 unfinished job(s)");
    const done = await waitFor(() => job(second.url, jobId), (j) => j.status === "done" || j.status === "failed");
    expect(done.status).toBe("done");
    const numbers = done.trajectory.iterations.map((it: any) => it.n);
    expect(numbers).toEqual(numbers.map((_: number, i: number) => i + 1));
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  });

  it("connects the Slack app when its credentials are set and runs a /gems job in a thread", async () => {
    const slack = await startFakeSlack();
    const port = await freePort();
    try {
      const served = await startServe(join(work(), "data-slack"), {
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_SIGNING_SECRET: "serve-test-secret",
        SLACK_API_URL: slack.apiUrl,
        SLACK_PORT: String(port),
      });
      expect(served.output()).toContain("gems: connected to Slack");
      expect(served.output()).not.toContain(slack.botToken);
      const sender = createSlackSender(`http://127.0.0.1:${port}/slack/events`, "serve-test-secret");
      const ack = await sender.command(slashCommand(slack, "a red cube --iterations 1", { id: "U0ADA", name: "ada" }, "C0ART"));
      expect(ack.status).toBe(200);
      const card = await slack.waitFor("the job's status card", () => slack.messages.find((m) => m.channel === "C0ART" && !m.threadTs), 20_000);
      await slack.waitFor("an iteration upload in the thread", () => slack.callsOf("files.completeUploadExternal")[0], 20_000);
      expect(slack.threadReplies("C0ART", card.ts).length).toBeGreaterThan(0);
      served.child.kill("SIGTERM");
      expect(await served.exited).toBe(0);
    } finally {
      await slack.close();
    }
  });

  it("connects the Discord bot when its credentials are set and answers /gems create with a thread", async () => {
    const discord = await startFakeDiscord();
    try {
      const served = await startServe(join(work(), "data-discord"), {
        DISCORD_TOKEN: discord.token,
        DISCORD_APPLICATION_ID: discord.applicationId,
        DISCORD_GUILD_ID: discord.guildId,
        DISCORD_API_URL: discord.apiUrl,
      });
      expect(served.output()).toContain("gems: connected to Discord");
      expect(served.output()).not.toContain(discord.token);
      const answer = await discord.answer(discord.command(discord.user("ada", "Ada"), "create", { prompt: "a red cube", iterations: 1 }), 20_000);
      expect(answer.content).toMatch(/^🎨 Job `\w+` accepted\./);
      await discord.waitFor(() => discord.calls.find((c) => c.method === "POST" && /\/threads$/.test(c.path)), "a thread for the job", 20_000);
      served.child.kill("SIGTERM");
      expect(await served.exited).toBe(0);
    } finally {
      await discord.close();
    }
  });

  it("stops with a message naming GEMS_WEB_PORT when the port is taken", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const child = spawnBin(["serve"], { cwd: work(), env: { GEMS_DATA_DIR: join(work(), "data-3"), GEMS_WEB_PORT: String(port) } });
      trackChild(child);
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((done) => child.once("exit", done));
      expect(code).toBe(2);
      expect(stderr).toMatch(new RegExp(`gems: The web studio could not listen on 127\\.0\\.0\\.1:${port} .*Set GEMS_WEB_PORT to a free port`));
    } finally {
      blocker.close();
    }
  });
});
