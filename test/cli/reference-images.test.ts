/**
 * `gems run --image`: reference images from files, checked before anything runs, sent to the
 * generator (a loopback ComfyUI with an image workflow), and `--refine edit` shown per iteration.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMain } from "../support/cli.ts";
import { markedImageWorkflow, markedWorkflow, startFakeComfyUi } from "../fakes/comfyui-server.ts";
import { JPEG_BYTES, TINY_PNG } from "../fakes/png-fixture.ts";

const root = resolve(import.meta.dirname, "../..");
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gems-cli-ref-"));
  writeFileSync(join(work, "workflow.json"), JSON.stringify(markedWorkflow()));
  writeFileSync(join(work, "image-workflow.json"), JSON.stringify(markedImageWorkflow()));
  writeFileSync(join(work, "ref.png"), TINY_PNG);
  writeFileSync(join(work, "ref.jpg"), JPEG_BYTES);
  writeFileSync(join(work, "notes.txt"), "not an image");
  writeFileSync(join(work, "huge.png"), TINY_PNG);
  truncateSync(join(work, "huge.png"), 30 * 1024 * 1024);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const run = (argv: string[], env: Record<string, string> = {}) =>
  runMain(argv, { GEMS_DATA_DIR: join(work, "data"), GEMS_SKILLS_DIR: join(root, "skills"), GEMS_MLLM: "sim", ...env }, work);

describe("gems run --image", () => {
  it("sends the reference to the generator, keeps it in the job folder and edits the best image with --refine edit", async () => {
    const comfy = await startFakeComfyUi();
    try {
      const { code, stdout, stderr } = await run(
        ["run", "a red cube", "--image", "ref.jpg", "--refine", "edit", "--iterations", "2", "--out", join(work, "with-ref"), "--seed", "3"],
        { GEMS_GENERATOR: "comfyui", GEMS_GENERATOR_URL: comfy.url, GEMS_COMFYUI_WORKFLOW: "workflow.json", GEMS_COMFYUI_IMAGE_WORKFLOW: "image-workflow.json", GEMS_GENERATOR_STEPS: "2" },
      );
      // Only the line that names the models in use; no error.
      expect(stderr.split("\n").filter((line) => line.startsWith("gems:") && !line.startsWith("gems: using"))).toEqual([]);
      // The fake's images are not sim drawings, so the sim verifier fails them: both iterations run.
      expect(code).toBe(0);
      expect(stdout).toContain("references: 1 image, sent to the generator");
      expect(stdout).toMatch(/\[2\/2\] editing image 1: /);
      const uploaded = [...comfy.uploads.values()].map((u) => Buffer.from(u.bytes));
      expect(uploaded).toContainEqual(Buffer.from(JPEG_BYTES));
      // Iteration 1 drew from the reference, iteration 2 edited iteration 1's image.
      expect(comfy.prompts[0]!.prompt["10"].class_type).toBe("LoadImage");
      expect(comfy.prompts[1]!.prompt["3"].inputs.denoise).toBe(0.5);
      expect(readdirSync(join(work, "with-ref"))).toContain("reference-1.jpg");
      const trajectory = JSON.parse(readFileSync(join(work, "with-ref", "trajectory.json"), "utf8"));
      expect(trajectory.request.referenceImages).toHaveLength(1);
      expect(trajectory.modes.refine).toBe("edit");
      expect(trajectory.iterations[1].edit.fromN).toBe(1);
    } finally {
      await comfy.close();
    }
  });

  it.each([
    [["--image", "notes.txt"], '"notes.txt" is not a PNG, JPEG or WebP image'],
    [["--image", "huge.png"], '"huge.png" is 30 MB; reference images may be at most 20 MB'],
    [Array.from({ length: 20 }, () => ["--image", "ref.png"]).flat(), "20 images were sent; the limit is 4"],
    [["--image", "missing.png"], "cannot read missing.png (ENOENT)"],
    [["--refine", "inpaint"], 'Unknown refine mode "inpaint"'],
  ])("refuses %j with one line and runs nothing", async (flags, message) => {
    const out = `refused-${Math.random().toString(36).slice(2)}`;
    const { code, stderr } = await run(["run", "a red cube", "--out", join(work, out), ...flags]);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr.trim().split("\n").filter((line) => line.startsWith("gems:") && !line.startsWith("gems: using"))).toHaveLength(1);
    expect(existsSync(join(work, out))).toBe(false);
  });
});
