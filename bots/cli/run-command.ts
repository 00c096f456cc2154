/** `gems run`: one job in the terminal, written to a folder as it goes. */
import { withImageExtension } from "../../core/images/image-type.ts";
import { provenanceFor, withProvenance } from "../../core/images/provenance.ts";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import type { Runtime } from "../runtime.ts";
import type { AgentEvent, JobEvent } from "../../core/agent/events.ts";
import { runJob } from "../../core/agent/run-job.ts";
import { parseRefineMode, validateJobRequest } from "../../core/agent/request.ts";
import { checkReferenceCount, checkReferenceImages, checkReferenceSize, type CheckedImage } from "../../core/images/reference-images.ts";
import { InputError } from "../../core/errors.ts";
import { moderationRefusal } from "../../core/jobs/moderated-jobs.ts";
import { activeRequirements, createTrajectory, type Trajectory } from "../../core/memory/trajectory.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";
import { costViewOf } from "../../core/jobs/usage-ledger.ts";
import { activityAfter, renderEvent, type RenderContext } from "./render.ts";
import { ProgressPrinter, type Output } from "./progress.ts";

export interface RunOptions {
  prompt: string;
  skill?: string | undefined;
  iterations?: number | undefined;
  seed?: number | undefined;
  /** Paths of reference images (`--image`, repeatable). */
  images?: string[] | undefined;
  /** `--refine redraw|edit`; the deployment's GEMS_REFINE_MODE otherwise. */
  refineMode?: string | undefined;
  outDir?: string | undefined;
  json: boolean;
  signal?: AbortSignal;
}

export type RunOutcome = "done" | "failed" | "cancelled";

/** Runs one job to its end. Throws InputError before anything starts when the request is bad. */
export async function runInTerminal(runtime: Runtime, options: RunOptions, stdout: Output, cwd: string): Promise<RunOutcome> {
  const images = createInMemoryImageStore();
  // Every image is read and checked before the job starts: a bad one stops the run with one line.
  const references = await readReferenceImages(options.images ?? [], cwd);
  const referenceHashes = await Promise.all(references.map((image) => images.put(image.bytes)));
  const request = validateJobRequest(
    {
      prompt: options.prompt,
      skill: options.skill,
      iterations: options.iterations,
      seed: options.seed,
      referenceImages: referenceHashes,
      refineMode: options.refineMode,
    },
    runtime.skills,
    runtime.config.maxIterations,
  );
  if (runtime.moderation) {
    const outcome = await runtime.moderation.check({ text: request.prompt, images: references.map((image) => ({ mimeType: image.contentType, data: image.bytes })) });
    if (!outcome.ok) {
      runtime.logger.warn({ moderator: outcome.by, categories: outcome.categories, isOutage: outcome.isOutage }, "moderation refused a prompt");
      // An InputError: nothing was started, and `gems run` exits 2 as for any refused request.
      throw new InputError(moderationRefusal(outcome, "prompt").message);
    }
  }
  const modes = { ...runtime.config.modes, ...(options.refineMode !== undefined ? { refine: parseRefineMode(options.refineMode) } : {}) };
  const jobId = randomUUID().slice(0, 8);
  const outDir = options.outDir ?? join("out", jobId);
  await mkdir(outDir, { recursive: true });
  const shown = (path: string): string => relative(cwd, path) || path;
  // The references sit next to the iterations, so the folder shows what the job started from.
  for (const [i, image] of references.entries()) await writeFile(join(outDir, withImageExtension(`reference-${i + 1}.png`, image.bytes)), image.bytes);
  const printer = new ProgressPrinter(stdout, !options.json && stdout.isTTY === true);
  // Generators may send JPEG or WebP; each file is named for what it holds (iter-2.webp).
  const fileNames = new Map<string, string>();
  const fileName = (base: string): string => fileNames.get(base) ?? `${base}.png`;
  // Each file carries its provenance (job, iteration, prompt, models); the store keeps the generator's bytes.
  const writeImage = async (base: string, trajectory: Trajectory, n: number, hash: string): Promise<void> => {
    const bytes = await images.get(hash);
    const name = withImageExtension(`${base}.png`, bytes);
    fileNames.set(base, name);
    const provenance = provenanceFor(trajectory, n, "cli", hash);
    await writeFile(join(outDir, name), provenance ? withProvenance(bytes, provenance) : bytes);
  };
  const ctx: RenderContext = {
    maxIterations: request.maxIterations,
    questions: new Map(),
    imagePath: (n) => shown(join(outDir, fileName(`iter-${n}`))),
    get bestPath() {
      return shown(join(outDir, fileName("best")));
    },
  };
  let seq = 0;

  // A preview may be committed while the step that follows it is already committing: one at a
  // time, in call order, so files and lines never interleave (trajectory.json shares a temp name).
  let previous: Promise<void> = Promise.resolve();
  const commit = (trajectory: Trajectory, events: AgentEvent[]): Promise<void> => {
    const next = previous.then(() => writeAndPrint(trajectory, events));
    previous = next.catch(() => undefined);
    return next;
  };
  const writeAndPrint = async (trajectory: Trajectory, events: AgentEvent[]): Promise<void> => {
    // Files first: a line that names a file is printed only once the file exists.
    for (const event of events) {
      if (event.type === "image.ready") {
        await writeImage(`iter-${event.n}`, trajectory, event.n, event.image.hash);
      }
    }
    const isFinal = events.some((e) => e.type === "job.done" || e.type === "job.failed" || e.type === "job.cancelled");
    if (isFinal && trajectory.best) {
      await writeImage("best", trajectory, trajectory.best.n, trajectory.best.imageHash);
    }
    await writeJsonAtomically(join(outDir, "trajectory.json"), trajectory);
    const models = runtime.modelNames ?? { mllm: runtime.mllm.name, generator: runtime.generator.name };
    for (const raw of events) {
      // As the job service does for served jobs: the final event says what the job spent.
      const event: AgentEvent =
        raw.type === "job.done" || raw.type === "job.failed" || raw.type === "job.cancelled"
          ? { ...raw, usage: costViewOf(trajectory, models, runtime.config.usage.prices) }
          : raw;
      if (options.json) {
        const line: JobEvent = { ...event, jobId, seq: ++seq, at: new Date().toISOString() };
        stdout.write(`${JSON.stringify(line)}\n`);
        continue;
      }
      for (const text of renderEvent(event, ctx)) printer.line(text);
      printer.status(activityAfter(event, activeRequirements(trajectory).length), event.type === "image.preview");
    }
  };

  if (!options.json) printer.line(`job ${jobId} → ${shown(outDir)}`);
  const trajectory = createTrajectory(jobId, request, new Date(), modes);
  try {
    const finished = await runJob(
      trajectory,
      {
        mllm: runtime.mllm,
        generator: runtime.generator,
        skills: runtime.skills,
        images,
        commit,
        verifyConcurrency: runtime.config.verifyConcurrency,
        logger: runtime.logger,
        previews: { intervalMs: runtime.config.jobs.previewIntervalMs },
        ...(runtime.modelNames ? { modelNames: runtime.modelNames } : {}),
      },
      options.signal ? { signal: options.signal } : {},
    );
    return finished.status === "done" ? "done" : finished.status === "cancelled" ? "cancelled" : "failed";
  } finally {
    printer.stop();
  }
}

/** `--image` files, read and checked (count, size before reading, type); InputError names the file and the problem. */
async function readReferenceImages(paths: readonly string[], cwd: string): Promise<CheckedImage[]> {
  const tooMany = checkReferenceCount(paths.length);
  if (tooMany) throw new InputError(`--image: ${tooMany}`);
  const sent = [];
  for (const path of paths) {
    const full = resolve(cwd, path);
    let size: number;
    try {
      const info = await stat(full);
      if (!info.isFile()) throw new InputError(`--image: ${path} is not a file. Give the path of a PNG, JPEG or WebP image.`);
      size = info.size;
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new InputError(`--image: cannot read ${path} (${(error as { code?: string }).code ?? "unreadable"}). Check the path.`);
    }
    const tooLarge = checkReferenceSize(basename(path), size);
    if (tooLarge) throw new InputError(`--image: ${tooLarge}`);
    sent.push({ name: basename(path), bytes: new Uint8Array(await readFile(full)) });
  }
  const checked = checkReferenceImages(sent);
  if (!checked.ok) throw new InputError(`--image: ${checked.message}`);
  return checked.images;
}

async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, path);
}
