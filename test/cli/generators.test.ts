/**
 * `gems run` and `gems backends` as an operator runs them: the real bin in a child process,
 * against loopback ComfyUI and AUTOMATIC1111 servers.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readProvenance } from "../../core/images/provenance.ts";
import { readImageInfo } from "../../core/images/sharp-images.ts";
import { startFakeA1111 } from "../fakes/a1111-server.ts";
import { markedWorkflow, startFakeComfyUi } from "../fakes/comfyui-server.ts";
import { startLoopbackServer } from "../fakes/loopback-server.ts";
import { runBin as runGemsBin } from "../support/cli.ts";

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gems-cli-gen-"));
  writeFileSync(join(work, "workflow.json"), JSON.stringify(markedWorkflow()));
  writeFileSync(join(work, "broken-workflow.json"), JSON.stringify(markedWorkflow("missing.safetensors")));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const runBin = (args: string[], env: Record<string, string>) => runGemsBin(args, { cwd: work, env: { GEMS_MLLM: "sim", ...env } });

describe("gems run on a user's own generator", () => {
  it("runs a ComfyUI workflow and writes the WebP it saved as iter-1.webp", async () => {
    const comfy = await startFakeComfyUi({ outputFormat: "webp" });
    try {
      const out = join(work, "comfy");
      const result = await runBin(["run", "a red cube", "--out", out, "--iterations", "1", "--seed", "5"], {
        GEMS_GENERATOR: "comfyui",
        GEMS_GENERATOR_URL: comfy.url,
        GEMS_COMFYUI_WORKFLOW: "workflow.json",
        GEMS_GENERATOR_SIZE: "640x480",
      });
      expect(result.code).toBe(0);
      expect(readdirSync(out).sort()).toEqual(["best.webp", "iter-1.webp", "trajectory.json"]);
      expect(await readImageInfo(readFileSync(join(out, "iter-1.webp")))).toMatchObject({ contentType: "image/webp" });
      expect(comfy.prompts[0]?.prompt["6"].inputs.text).toContain("a red cube");
      expect(comfy.prompts[0]?.prompt["5"].inputs).toMatchObject({ width: 640, height: 480 });
      expect(result.stdout).toContain("iter-1.webp");
      // The WebP carries its provenance as XMP, naming the workflow rather than the server.
      const written = readProvenance(new Uint8Array(readFileSync(join(out, "iter-1.webp"))));
      expect(written).toMatchObject({ ok: true, provenance: { iteration: "1", generator: "comfyui:workflow.json", surface: "cli" } });
      expect(JSON.stringify(written)).not.toContain(new URL(comfy.url).host);
    } finally {
      await comfy.close();
    }
  });

  it("fails the run with ComfyUI's node error in one line", async () => {
    const comfy = await startFakeComfyUi();
    try {
      const result = await runBin(["run", "a red cube", "--out", join(work, "comfy-bad"), "--iterations", "1"], {
        GEMS_GENERATOR: "comfyui",
        GEMS_GENERATOR_URL: comfy.url,
        GEMS_COMFYUI_WORKFLOW: "broken-workflow.json",
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^failed: The ComfyUI server at 127\.0\.0\.1:\d+ rejected the request \(400\): Prompt outputs failed validation; node 4 \(CheckpointLoaderSimple\): Value not in list/m);
    } finally {
      await comfy.close();
    }
  });

  it("stops at start-up with one line per workflow problem", async () => {
    writeFileSync(join(work, "ui.json"), JSON.stringify({ nodes: [], links: [] }));
    const result = await runBin(["run", "a cat"], { GEMS_GENERATOR: "comfyui", GEMS_GENERATOR_URL: "http://127.0.0.1:9", GEMS_COMFYUI_WORKFLOW: "ui.json" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/GEMS_COMFYUI_WORKFLOW: .*ui\.json is in ComfyUI's UI format .*Export \(API\)/);
  });

  it("runs on AUTOMATIC1111 with the configured steps and negative prompt", async () => {
    const a1111 = await startFakeA1111();
    try {
      const out = join(work, "a1111");
      const result = await runBin(["run", "a red cube", "--out", out, "--iterations", "1"], {
        GEMS_GENERATOR: "a1111",
        GEMS_GENERATOR_URL: a1111.url,
        GEMS_GENERATOR_STEPS: "3",
        GEMS_GENERATOR_NEGATIVE_PROMPT: "lowres",
      });
      expect(result.code).toBe(0);
      expect(readdirSync(out)).toContain("iter-1.png");
      expect(a1111.txt2img[0]).toMatchObject({ steps: 3, negative_prompt: "lowres", width: 1024, height: 1024 });
      expect(a1111.txt2img[0].prompt).toContain("a red cube");
    } finally {
      await a1111.close();
    }
  });
});

describe("gems run on a pool", () => {
  it("finishes on the servers that answer when one of the pool is down, and sends that one nothing", async () => {
    const [up, down] = [await startFakeA1111(), await startFakeA1111()];
    await down.close();
    try {
      const out = join(work, "pool");
      const result = await runBin(["run", "a red cube", "--out", out, "--iterations", "2"], {
        GEMS_GENERATOR: "a1111",
        GEMS_GENERATOR_URL: `${down.url},${up.url}`,
        GEMS_GENERATOR_MAX_RETRIES: "0",
      });
      expect(result.code).toBe(0);
      expect(readdirSync(out)).toContain("iter-2.png");
      expect(up.txt2img).toHaveLength(2);
      expect(down.txt2img).toHaveLength(0);
    } finally {
      await up.close();
    }
  });
});

describe("gems backends", () => {
  it("prints each server of the pools, up or down, with what it serves and its latency, and exits 1 when one is down", async () => {
    const [comfy, a1111] = [await startFakeComfyUi(), await startFakeA1111()];
    const dead = await startFakeComfyUi();
    await dead.close();
    const key = "sk-live-secret-0123456789";
    // An OpenAI-compatible server that lists its model, and one that echoes the key it refuses.
    const mllm = await startLoopbackServer((request) =>
      request.headers.authorization === `Bearer ${key}` && request.path === "/v1/models"
        ? { json: { object: "list", data: [{ id: "Qwen/Qwen3-VL-8B-Instruct", object: "model" }] } }
        : { status: 401, json: { error: { message: `Incorrect API key provided: ${key}`, type: "invalid_request_error" } } },
    );
    const echo = await startLoopbackServer(() => ({ status: 401, json: { error: { message: `Incorrect API key provided: ${key}` } } }));
    try {
      const result = await runBin(["backends"], {
        GEMS_MLLM: "openai-compatible",
        GEMS_MLLM_BASE_URL: `${mllm.origin}/v1,${echo.origin}/v1`,
        GEMS_MLLM_API_KEY: key,
        GEMS_GENERATOR: "comfyui",
        GEMS_GENERATOR_URL: `${comfy.url}#2,${dead.url}`,
        GEMS_COMFYUI_WORKFLOW: "workflow.json",
      });
      const lines = result.stdout.trim().split("\n");
      expect(lines).toHaveLength(5);
      expect(lines[0]).toMatch(/^up {4}MLLM openai-compatible http:\/\/127\.0\.0\.1:\d+\/v1 \(capacity 16\): \d+ ms, serves Qwen\/Qwen3-VL-8B-Instruct$/);
      expect(lines[1]).toMatch(/^DOWN {2}MLLM openai-compatible http:\/\/127\.0\.0\.1:\d+\/v1 \(capacity 16\): refused our credentials \(401\)$/);
      expect(lines[2]).toMatch(/^up {4}generator comfyui http:\/\/127\.0\.0\.1:\d+ \(capacity 2\): \d+ ms, ComfyUI 0\.3\.43 on cuda:0 NVIDIA GeForce RTX 4090; configured: workflow .*workflow\.json$/);
      expect(lines[3]).toMatch(/^DOWN {2}generator comfyui http:\/\/127\.0\.0\.1:\d+ \(capacity 1\): no answer \(ECONNREFUSED\)/);
      expect(lines[4]).toBe("2 of 4 servers do not answer");
      expect(result.stdout + result.stderr).not.toContain(key);
      expect(result.code).toBe(1);

      const wrongModel = await runBin(["backends"], { GEMS_MLLM_BASE_URL: `${mllm.origin}/v1`, GEMS_MLLM_API_KEY: key, GEMS_MLLM_MODEL: "llava-13b", GEMS_MLLM: "openai-compatible" });
      expect(wrongModel.stdout).toMatch(/^DOWN {2}MLLM openai-compatible http:\/\/127\.0\.0\.1:\d+\/v1: does not serve llava-13b \(it lists Qwen\/Qwen3-VL-8B-Instruct\); set GEMS_MLLM_MODEL to one it serves; configured: model llava-13b$/m);
      expect(wrongModel.code).toBe(1);

      const healthy = await runBin(["backends"], { GEMS_GENERATOR: "a1111", GEMS_GENERATOR_URL: a1111.url });
      expect(healthy.stdout).toMatch(/^up {4}generator a1111 http:\/\/127\.0\.0\.1:\d+: \d+ ms, checkpoint sd_xl_base_1\.0\.safetensors \[31e35c80fc\]$/m);
      expect(healthy.stdout).toContain("sim   MLLM: simulated, offline (nothing to check)");
      expect(healthy.code).toBe(0);
    } finally {
      await Promise.all([comfy.close(), a1111.close(), mllm.close(), echo.close()]);
    }
  });
});
