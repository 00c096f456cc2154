import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { withProvenance } from "../../core/images/provenance.ts";
import { parseStoredTrajectory } from "../../core/memory/trajectory-schema.ts";
import { runMain } from "../support/cli.ts";

const root = resolve(import.meta.dirname, "../..");
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "gems-inspect-"));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const gems = (argv: string[]) => runMain(argv, { GEMS_DATA_DIR: join(work, "data"), GEMS_SKILLS_DIR: join(root, "skills"), GEMS_SIM_LATENCY_MS: "1" }, work);

const PROVENANCE = { jobId: "job-7", iteration: 2, prompt: "a red cube\non a blue sphere", mllm: "openai-compatible:qwen3-vl", generator: "comfyui:flux.json", surface: "discord" };
const picture = () => sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 1, g: 2, b: 3 } } });

describe("gems inspect", () => {
  it("prints what gems run wrote into its images: job id, iteration, prompt and model names", async () => {
    const out = join(work, "run");
    const run = await gems(["run", "a red cube", "--iterations", "2", "--out", out]);
    expect(run.code).toBe(0);
    const trajectory = parseStoredTrajectory(JSON.parse(readFileSync(join(out, "trajectory.json"), "utf8")).jobId, JSON.parse(readFileSync(join(out, "trajectory.json"), "utf8")));
    const best = trajectory.best;
    if (!best) throw new Error("no best image");

    const inspected = await gems(["inspect", join(out, "best.png")]);

    expect(inspected.code).toBe(0);
    expect(inspected.stderr).toBe("");
    const iteration = trajectory.iterations.find((it) => it.n === best.n)!;
    expect(inspected.stdout).toContain(`job id:        ${trajectory.jobId}\n`);
    expect(inspected.stdout).toContain(`iteration:     ${best.n}\n`);
    expect(inspected.stdout).toContain(`prompt:        ${iteration.prompt}\n`);
    expect(inspected.stdout).toContain("MLLM:          sim\n");
    expect(inspected.stdout).toContain("generator:     sim\n");
    expect(inspected.stdout).toContain("posted on:     cli\n");
    expect(inspected.stdout).toContain(`source sha256: ${best.imageHash}\n`);
    expect(trajectory.models).toEqual({ mllm: "sim", generator: "sim" });
  });

  for (const [format, encode] of [
    ["PNG", (s: sharp.Sharp) => s.png()],
    ["JPEG", (s: sharp.Sharp) => s.jpeg()],
    ["WebP", (s: sharp.Sharp) => s.webp()],
  ] as const) {
    it(`reads a ${format} file, multi-line prompt included, and prints JSON with --json`, async () => {
      const path = join(work, `tagged.${format.toLowerCase()}`);
      writeFileSync(path, withProvenance(new Uint8Array(await encode(picture()).toBuffer()), PROVENANCE));

      const plain = await gems(["inspect", path]);
      const json = await gems(["inspect", path, "--json"]);

      expect(plain.code).toBe(0);
      expect(plain.stdout.split("\n")).toEqual([
        `${path}: ${format} made by GEMS Bot`,
        "  job id:        job-7",
        "  iteration:     2",
        "  prompt:        a red cube",
        "                 on a blue sphere",
        "  MLLM:          openai-compatible:qwen3-vl",
        "  generator:     comfyui:flux.json",
        "  posted on:     discord",
        "",
      ]);
      expect(JSON.parse(json.stdout)).toEqual({ file: path, format, jobId: "job-7", iteration: "2", prompt: PROVENANCE.prompt, mllm: PROVENANCE.mllm, generator: PROVENANCE.generator, surface: "discord" });
    });
  }

  it("answers a file that is no image, an image without provenance, a missing file and no file each with one line and exit 2", async () => {
    const text = join(work, "notes.txt");
    writeFileSync(text, "hello");
    const plain = join(work, "plain.png");
    writeFileSync(plain, await picture().png().toBuffer());
    const damaged = join(work, "damaged.png");
    writeFileSync(damaged, withProvenance(new Uint8Array(await picture().png().toBuffer()), PROVENANCE).subarray(0, 50));
    mkdirSync(join(work, "folder"), { recursive: true });

    const cases: Array<[string[], RegExp]> = [
      [["inspect", text], /^gems inspect: .*notes\.txt: it is not a PNG, JPEG or WebP image; GEMS Bot writes provenance into PNG, JPEG and WebP files\.\n$/],
      [["inspect", plain], /^gems inspect: .*plain\.png: it carries no GEMS Bot provenance \(GEMS Bot did not post or save it, or a tool stripped its metadata\)\.\n$/],
      [["inspect", damaged], /^gems inspect: .*damaged\.png: its image\/png structure is damaged \(Truncated PNG.*\)\.\n$/],
      [["inspect", join(work, "missing.png")], /^gems inspect: cannot read .*missing\.png: there is no such file\.\n$/],
      [["inspect", join(work, "folder")], /^gems inspect: cannot read .*folder: it is a directory\.\n$/],
      [["inspect"], /^gems inspect: name the image to read, e\.g\. gems inspect out\/<job id>\/best\.png\n$/],
      [["inspect", plain, text], /^gems inspect: one image at a time \(got 2\)\.\n$/],
    ];
    for (const [argv, expected] of cases) {
      const result = await gems(argv);
      expect({ argv, code: result.code, stdout: result.stdout }).toEqual({ argv, code: 2, stdout: "" });
      expect(result.stderr).toMatch(expected);
    }
  });
});
