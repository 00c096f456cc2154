/** The stored shape of a job, checked with zod on every read: the store is outside input too. */
import { z } from "zod";
import type { AgentEventType, JobEvent } from "../agent/events.ts";
import { CorruptRecordError } from "../memory/storage-errors.ts";
import { trajectorySchema } from "../memory/trajectory-schema.ts";
import type { JobRecord } from "./types.ts";

const personSchema = z.object({ id: z.string().min(1), name: z.string() });

const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

const surfaceRefSchema = z.object({ surface: z.string().min(1) }).catchall(jsonValue);

const EVENT_TYPES = [
  "job.queued",
  "job.started",
  "plan.done",
  "requirements",
  "references",
  "iteration.started",
  "image.preview",
  "image.ready",
  "iteration.failed",
  "verified",
  "experience",
  "feedback.added",
  "prompt.refined",
  "job.done",
  "job.failed",
  "job.cancelled",
  "votes.changed",
] as const satisfies readonly AgentEventType[];

// Fails the typecheck when events.ts gains a type this list does not know.
type Missing = Exclude<AgentEventType, (typeof EVENT_TYPES)[number]>;
const everyEventTypeListed: Missing extends never ? true : never = true;
void everyEventTypeListed;

// The envelope is checked field by field; the payloads were built by the agent and are only
// replayed to surfaces, so their shape is trusted once the type is known.
const eventSchema = z.looseObject({
  type: z.enum(EVENT_TYPES),
  jobId: z.string().min(1),
  seq: z.number().int().positive(),
  at: z.string().min(1),
});

const recordSchema = z.object({
  version: z.literal(1),
  jobId: z.string().min(1),
  requester: personSchema,
  surfaceRef: surfaceRefSchema,
  trajectory: trajectorySchema,
  events: z.array(eventSchema),
  cursors: z.record(z.string(), z.number().int().nonnegative()),
  pendingFeedback: z.array(
    z.object({
      author: personSchema,
      text: z.string(),
      receivedAt: z.string().min(1),
      imageHashes: z.array(z.string().regex(/^[0-9a-f]{64}$/)).optional(),
      isNote: z.boolean().optional(),
    }),
  ),
  finishedAt: z.string().nullable(),
  votes: z
    .array(z.object({ n: z.number().int().positive(), voter: personSchema, value: z.enum(["up", "down"]), at: z.string().min(1) }))
    .optional(),
});

/**
 * Checks a stored value; throws CorruptRecordError naming the job and the first problem.
 * `knownEvents`: the value holds only the events after that many (a read of what is new).
 */
export function parseJobRecord(jobId: string, value: unknown, knownEvents = 0): JobRecord {
  const result = recordSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new CorruptRecordError(jobId, `${where}${issue?.message ?? "invalid record"}`, { cause: result.error });
  }
  const record = result.data;
  if (record.jobId !== jobId || record.trajectory.jobId !== jobId) {
    throw new CorruptRecordError(jobId, `it holds job ${record.jobId} instead`);
  }
  // Surfaces drop duplicates by seq; a gap or a repeat would make them drop a real event.
  const badSeq = record.events.findIndex((event, index) => event.seq !== knownEvents + index + 1 || event.jobId !== jobId);
  if (badSeq >= 0) throw new CorruptRecordError(jobId, `event ${knownEvents + badSeq + 1} is out of sequence`);
  return { ...record, surfaceRef: record.surfaceRef as JobRecord["surfaceRef"], events: record.events as JobEvent[] };
}
