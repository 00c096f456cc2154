import { z } from "zod";
import type {
  BestImage,
  FeedbackEntry,
  IterationRecord,
  JobRequest,
  LoopModes,
  Plan,
  Requirement,
  SkillChoice,
  Trajectory,
  UsageRecord,
  Verdict,
} from "./trajectory.ts";
import { CorruptRecordError } from "./storage-errors.ts";

// Each schema is pinned to its type with `Exactly` below, so adding a field to trajectory.ts without
// adding it here fails the typecheck instead of being silently stripped on the next read.
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "expected a sha256 hex digest");
const isoTime = z.string().min(1);
const count = z.number().int().nonnegative();

const requirementSchema = z.object({
  id: z.number().int(),
  question: z.string(),
  source: z.enum(["prompt", "feedback"]),
  feedbackId: z.number().int().optional(),
  retiredByFeedbackId: z.number().int().optional(),
});

const verdictSchema = z.object({
  requirementId: z.number().int(),
  passed: z.boolean(),
  answer: z.string(),
  failure: z.string().optional(),
});

const iterationSchema = z.object({
  n: z.number().int().positive(),
  prompt: z.string(),
  thought: z.string().nullable(),
  imageHash: sha256Hex.nullable(),
  verdicts: z.array(verdictSchema),
  passed: count,
  total: count,
  isVerified: z.boolean(),
  experience: z.string().nullable(),
  startedAt: isoTime,
  error: z.string().optional(),
  regressions: z.array(z.number().int()).optional(),
  edit: z.object({ fromN: z.number().int().positive(), instruction: z.string() }).optional(),
});

const feedbackSchema = z.object({
  id: z.number().int(),
  author: z.string(),
  text: z.string(),
  atIteration: count,
  requirementIds: z.array(z.number().int()),
  retiredRequirementIds: z.array(z.number().int()),
  addedAt: isoTime,
  imageHashes: z.array(sha256Hex).optional(),
});

// `SkillChoice` is `string` with autocomplete hints; any string is valid on disk.
const skillChoiceSchema = z.string().min(1) as z.ZodType<SkillChoice>;

const requestSchema = z.object({
  prompt: z.string(),
  skill: skillChoiceSchema,
  maxIterations: z.number().int().positive(),
  seed: z.number().int().optional(),
  referenceImages: z.array(sha256Hex).optional(),
});

const planSchema = z.object({
  skill: z.string().nullable(),
  prompt: z.string(),
  why: z.string().nullable(),
});

const bestSchema = z.object({
  n: z.number().int().positive(),
  imageHash: sha256Hex,
  passed: count,
  total: count,
});

// Records written before modes and usage existed ran the reference loop and kept no usage.
const modesSchema = z.object({
  verify: z.enum(["per-question", "batch"]),
  loop: z.enum(["full", "fast"]),
  // Absent in records written before edit-to-fix existed: they redrew.
  refine: z.enum(["redraw", "edit"]).optional(),
});

const usageSchema = z.object({
  n: count,
  role: z.string(),
  calls: count,
  images: count,
  reportedCalls: count,
  inputTokens: count,
  cachedInputTokens: count,
  outputTokens: count,
});

export const trajectorySchema = z.object({
  jobId: z.string().min(1),
  request: requestSchema,
  plan: planSchema.nullable(),
  requirements: z.array(requirementSchema).nullable(),
  iterations: z.array(iterationSchema),
  feedback: z.array(feedbackSchema),
  nextPrompt: z
    .object({
      prompt: z.string(),
      thought: z.string().nullable(),
      edit: z.object({ fromN: z.number().int().positive(), instruction: z.string() }).optional(),
    })
    .nullable(),
  best: bestSchema.nullable(),
  modes: modesSchema.default({ verify: "per-question", loop: "full" }),
  usage: z.array(usageSchema).default([]),
  models: z.object({ mllm: z.string(), generator: z.string() }).optional(),
  status: z.enum(["queued", "running", "done", "failed", "cancelled"]),
  stopReason: z.enum(["all-passed", "max-iterations", "picked", "stopped", "quota"]).nullable(),
  error: z.string().nullable(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

type Exactly<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertExactly<_ extends true>(): void {}
assertExactly<Exactly<z.infer<typeof requirementSchema>, Requirement>>();
assertExactly<Exactly<z.infer<typeof verdictSchema>, Verdict>>();
assertExactly<Exactly<z.infer<typeof iterationSchema>, IterationRecord>>();
assertExactly<Exactly<z.infer<typeof feedbackSchema>, FeedbackEntry>>();
assertExactly<Exactly<z.infer<typeof requestSchema>, JobRequest>>();
assertExactly<Exactly<z.infer<typeof planSchema>, Plan>>();
assertExactly<Exactly<z.infer<typeof bestSchema>, BestImage>>();
assertExactly<Exactly<z.infer<typeof modesSchema>, LoopModes>>();
assertExactly<Exactly<z.infer<typeof usageSchema>, UsageRecord>>();
assertExactly<Exactly<z.infer<typeof trajectorySchema>["nextPrompt"], Trajectory["nextPrompt"]>>();
assertExactly<Exactly<keyof z.infer<typeof trajectorySchema>, keyof Trajectory>>();

/**
 * Checks a value read from storage against the Trajectory shape; throws CorruptRecordError
 * naming the job and the first problem found.
 */
export function parseStoredTrajectory(jobId: string, value: unknown): Trajectory {
  const result = trajectorySchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new CorruptRecordError(jobId, `${where}${issue?.message ?? "invalid record"}`, { cause: result.error });
  }
  if (result.data.jobId !== jobId) {
    throw new CorruptRecordError(jobId, `it holds job ${result.data.jobId} instead`);
  }
  return result.data;
}
