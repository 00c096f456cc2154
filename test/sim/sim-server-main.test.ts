import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { readPngInfo, readPngText } from "../../core/images/png.ts";
import { onCleanup } from "../support/cleanup.ts";

const root = resolve(import.meta.dirname, "../..");

/** `npm run sim-server` as a process; resolves with its URL, or with its exit code and stderr. */
function startSimServer(args: string[]): Promise<{ url: string } | { code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "servers/sim/main.ts", "--port", "0", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  onCleanup(async () => void (child.exitCode === null && child.kill("SIGKILL")));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolvePromise) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
      if (url) resolvePromise({ url });
    });
    child.once("exit", (code) => resolvePromise({ code, stderr }));
  });
}

describe("sim server --image-size", () => {
  it("draws pictures of that size for requests that name none, still carrying the drawn scene", async () => {
    const started = await startSimServer(["--image-size", "64", "--quiet"]);
    if (!("url" in started)) throw new Error(`sim server did not start: ${started.stderr}`);
    const response = await fetch(`${started.url}/generate?prompt=${encodeURIComponent("two red cubes")}&seed=1`, { method: "POST" });
    const png = new Uint8Array(await response.arrayBuffer());

    expect(readPngInfo(png)).toEqual({ width: 64, height: 64 });
    expect(JSON.parse(readPngText(png)["gems-sim-scene"] ?? "{}").objects?.length).toBeGreaterThan(0);
  });

  it("refuses a size outside 32 to 2048 pixels with a message naming the option", async () => {
    const started = await startSimServer(["--image-size", "16"]);

    expect(started).toMatchObject({ code: 1 });
    expect("stderr" in started && started.stderr).toContain("--image-size must be a whole number of pixels from 32 to 2048 (got \"16\")");
  });
});
