import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { parseStoredTrajectory } from "../../core/memory/trajectory-schema.ts";
import { isPng } from "../../core/images/png.ts";
import { startSimServer } from "../../servers/sim/http-server.ts";
import { startFakeGemsGenerator, fastApiError } from "../fakes/gems-generator-server.ts";
import { runBin as runGemsBin, runMain as runGemsMain } from "../support/cli.ts";

const root = resolve(import.meta.dirname, "../..");
const PROMPT = 'three red cubes on the left of a blue sphere, a sign that says "OPEN"';
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gems-cli-"));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** Runs main() in this process, for the cases that end before any model is called. */
const runMain = (argv: string[], env: Record<string, string> = {}) => runGemsMain(argv, { GEMS_DATA_DIR: join(work, "data"), ...env }, work);

/** Runs the real `gems` bin as a child process, with a clean environment. */
const runBin = (args: string[], env: Record<string, string> = {}, onStdout?: (text: string, child: ChildProcess) => void) =>
  runGemsBin(args, { cwd: work, env, ...(onStdout ? { onStdout } : {}) });

describe("gems run on the simulated models", () => {
  it("prints every step and writes each image, the best one and the trajectory", async () => {
    const out = join(work, "run-1");
    const result = await runBin(["run", PROMPT, "--out", out, "--seed", "3"]);
    expect(result.stderr).toContain("using the simulated MLLM and image generator");
    expect(result.code).toBe(0);

    const trajectory = parseStoredTrajectory(
      JSON.parse(readFileSync(join(out, "trajectory.json"), "utf8")).jobId,
      JSON.parse(readFileSync(join(out, "trajectory.json"), "utf8")),
    );
    expect(trajectory.status).toBe("done");
    const n = trajectory.iterations.length;
    expect(n).toBeGreaterThanOrEqual(1);
    for (let i = 1; i <= n; i++) {
      expect(isPng(readFileSync(join(out, `iter-${i}.png`)))).toBe(true);
      expect(result.stdout).toContain(`[${i}/5] generating: `);
      expect(result.stdout).toMatch(new RegExp(`\\[${i}/5\\] verified: \\d+/\\d+ passed`));
    }
    expect(existsSync(join(out, `iter-${n + 1}.png`))).toBe(false);
    expect(readFileSync(join(out, "best.png"))).toEqual(readFileSync(join(out, `iter-${trajectory.best?.n}.png`)));
    expect(result.stdout).toMatch(/^checklist: \d+ questions$/m);
    // The final line, then what the job spent (the sim has no price: tokens and images).
    expect(result.stdout.trim().split("\n").at(-2)).toMatch(/^done: /);
    expect(result.stdout.trim().split("\n").at(-1)).toMatch(/^Usage: [\d,]+ tokens in, [\d,]+ out, \d+ images? \(no price set for sim\)$/);
  });

  it("prints the events as JSON lines in order with --json", async () => {
    const result = await runBin(["run", "two green balls above a red cube", "--json", "--out", join(work, "json"), "--iterations", "2", "--seed", "1"]);
    expect(result.code).toBe(0);
    const events = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as { type: string; seq: number; jobId: string });
    expect(events[0]?.type).toBe("job.started");
    expect(events.at(-1)?.type).toBe("job.done");
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(new Set(events.map((e) => e.jobId)).size).toBe(1);
  });

  it("prints the same plain lines with live previews on as off when piped", async () => {
    const run = async (interval: string) => {
      const out = join(work, `previews-${interval}`);
      // 200 ms per model call: the sim generator reports three partial drawings per image.
      const result = await runBin(["run", PROMPT, "--out", out, "--iterations", "2", "--seed", "3"], { GEMS_SIM_LATENCY_MS: "200", GEMS_PREVIEW_INTERVAL_MS: interval });
      expect(result.code).toBe(0);
      return result.stdout.replaceAll(`previews-${interval}`, "OUT").replace(/^job \S+/m, "job ID");
    };
    const json = runBin(["run", PROMPT, "--out", join(work, "previews-json"), "--iterations", "2", "--seed", "3", "--json"], { GEMS_SIM_LATENCY_MS: "200", GEMS_PREVIEW_INTERVAL_MS: "1" });
    const [on, off, events] = await Promise.all([run("1"), run("0"), json]);
    // The previews were there: --json prints every event, previews included.
    expect(events.stdout.split("\n").filter((line) => line.includes('"type":"image.preview"')).length).toBeGreaterThanOrEqual(2);
    expect(on).toBe(off);
    expect(on).not.toMatch(/%/);
    expect(on).toMatch(/^\[2\/2\] image: /m);
  });

  it("stops on Ctrl-C, keeps the best image so far and exits 130", async () => {
    const out = join(work, "interrupted");
    let sent = false;
    // Seed 3 needs five attempts for this prompt, so the job is still running when Ctrl-C lands.
    const result = await runBin(["run", PROMPT, "--out", out, "--iterations", "10", "--seed", "3"], { GEMS_SIM_LATENCY_MS: "150" }, (text, child) => {
      if (!sent && /verified: /.test(text)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    expect(result.code).toBe(130);
    expect(result.stdout).toMatch(/^cancelled \(best so far: iteration 1 /m);
    expect(isPng(readFileSync(join(out, "best.png")))).toBe(true);
  });

  it("gives the same run through the real adapters against the sim server", async () => {
    const server = await startSimServer({});
    try {
      const viaHttp = join(work, "via-http");
      const inProcess = join(work, "in-process");
      const http = await runBin(["run", PROMPT, "--out", viaHttp, "--seed", "11"], {
        GEMS_MLLM_BASE_URL: `${server.url}/v1`,
        GEMS_GENERATOR_URL: `${server.url}/generate`,
      });
      expect(http.stderr).toMatch(/MLLM: openai-compatible:\S+; image generator: gems-http:127\.0\.0\.1/);
      expect(http.code).toBe(0);
      const local = await runBin(["run", PROMPT, "--out", inProcess, "--seed", "11"]);
      expect(local.code, local.stderr).toBe(0);
      const read = (dir: string) => JSON.parse(readFileSync(join(dir, "trajectory.json"), "utf8"));
      const [a, b] = [read(viaHttp), read(inProcess)];
      expect(a.iterations.map((it: { prompt: string }) => it.prompt)).toEqual(b.iterations.map((it: { prompt: string }) => it.prompt));
      expect(a.iterations.map((it: { passed: number }) => it.passed)).toEqual(b.iterations.map((it: { passed: number }) => it.passed));
      expect(a.best).toEqual(b.best);
    } finally {
      await server.close();
    }
  });

  it("exits 1 with the reason when the generator stays down", async () => {
    const generator = await startFakeGemsGenerator(() => fastApiError(500, "CUDA out of memory"));
    try {
      const result = await runBin(["run", "a red cube", "--out", join(work, "down")], {
        GEMS_GENERATOR_URL: generator.url,
        GEMS_MLLM: "sim",
        GEMS_GENERATOR_MAX_RETRIES: "1",
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^failed: The image generator at 127\.0\.0\.1:\d+ .*CUDA out of memory/m);
    } finally {
      await generator.close();
    }
  });
});

describe("bad input", () => {
  it.each([
    [["run", "   "], /^gems: The prompt is empty\./],
    [["run", "x".repeat(4001)], /^gems: The prompt is 4001 characters long; the limit is 4000\./],
    [["run", "a cat", "--skill", "oil-paint"], /^gems: Unknown skill "oil-paint"\. Choose auto, none, or one of: aesthetic-drawing, creative-drawing, spatial-layout, text-rendering\./],
    [["run", "a cat", "--iterations", "0"], /^gems: Iterations must be a whole number from 1 to 10 \(got 0\)\./],
    [["run", "a cat", "--iterations", "11"], /^gems: Iterations must be a whole number from 1 to 10 \(got 11\)\./],
    [["run", "a cat", "--iterations", "two"], /^gems: --iterations must be a whole number \(got "two"\)\./],
    [["paint", "a cat"], /^gems: unknown command "paint"\./],
    [["run", "a cat", "--colour", "red"], /^gems: Unknown option '--colour'/],
  ])("%j exits 2 with a specific message", async (argv, message) => {
    const result = await runMain(argv as string[], { GEMS_SKILLS_DIR: join(root, "skills") });
    expect(result.code).toBe(2);
    expect(result.stderr.split("\n").find((line) => line.startsWith("gems: ") && !line.includes("simulated"))).toMatch(message);
  });

  it("exits 2 naming the variable when the configuration is bad", async () => {
    const result = await runMain(["run", "a cat"], { GEMS_MAX_ITERATIONS: "many" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('GEMS_MAX_ITERATIONS: must be a whole number from 1 to 10 (got "many"). Example: GEMS_MAX_ITERATIONS=5');
  });
});

describe("gems skills", () => {
  it("lists the library with descriptions", async () => {
    const result = await runMain(["skills"], { GEMS_SKILLS_DIR: join(root, "skills") });
    expect(result.code).toBe(0);
    expect(result.stdout.match(/^[a-z-]+ — /gm)).toEqual([
      "aesthetic-drawing — ",
      "creative-drawing — ",
      "spatial-layout — ",
      "text-rendering — ",
    ]);
  });
});
