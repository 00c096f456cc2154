import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runInTerminal } from "../../bots/cli/run-command.ts";
import type { Runtime } from "../../bots/runtime.ts";
import { loadConfig } from "../../config/schema.ts";
import type { JobEvent } from "../../core/agent/events.ts";
import { silentLogger } from "../../core/logger.ts";
import type { ImageGenerator } from "../../core/models/ports.ts";
import { loadSkillLibrary } from "../../core/skills/registry.ts";
import { partialDrawings } from "../../servers/sim/partial-drawings.ts";
import { createSimGenerator } from "../../servers/sim/sim-generator.ts";
import { createSimMllm } from "../../servers/sim/sim-mllm.ts";

const work = mkdtempSync(join(tmpdir(), "gems-cli-previews-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Reports a preview every 2 ms and returns right after the last, so preview commits overlap the image's own. */
function busyGenerator(): ImageGenerator {
  const sim = createSimGenerator({ width: 64, height: 64 });
  return {
    name: "busy",
    async generate(request) {
      const { onProgress, ...plain } = request;
      const png = await sim.generate(plain);
      const [partial] = partialDrawings(png, 1);
      for (let i = 1; i <= 20; i++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        onProgress?.({ percent: i, preview: partial!.png });
      }
      // Return while the last preview is being committed.
      await new Promise((resolve) => setImmediate(resolve));
      return png;
    },
  };
}

describe("gems run with live previews", () => {
  it("stores and prints every event in order while previews are committed alongside the steps", async () => {
    const config = loadConfig({ GEMS_PREVIEW_INTERVAL_MS: "1", GEMS_DATA_DIR: join(work, "data") }, { envFile: null, cwd: work });
    const runtime: Runtime = { config, logger: silentLogger, mllm: createSimMllm(), generator: busyGenerator(), skills: await loadSkillLibrary(join(import.meta.dirname, "../../skills")) };
    const lines: string[] = [];
    const out = join(work, "out");
    const outcome = await runInTerminal(
      runtime,
      { prompt: 'three red cubes on the left of a blue sphere, a sign that says "OPEN"', skill: "none", iterations: 3, seed: 3, outDir: out, json: true },
      { write: (chunk: string) => lines.push(...chunk.split("\n").filter(Boolean)) },
      work,
    );
    expect(outcome).toBe("done");
    const events = lines.map((line) => JSON.parse(line) as JobEvent);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const previews = events.filter((e) => e.type === "image.preview");
    // The configured interval reached the loop: far more than one preview per image.
    expect(previews.length).toBeGreaterThan(3 * 3);
    for (const ready of events.filter((e) => e.type === "image.ready")) {
      expect(events.filter((e) => e.type === "image.preview" && e.n === ready.n).every((p) => p.seq < ready.seq)).toBe(true);
    }
    const stored = JSON.parse(readFileSync(join(out, "trajectory.json"), "utf8"));
    expect(stored.status).toBe("done");
  });
});
