/**
 * What the Discord bot stores with each job (the job's SurfaceRef): where its thread is, which
 * messages to edit, and the last event it posted something for. Stored by the job service as
 * plain JSON, so it survives a restart; read back through a schema because old records may
 * predate a field.
 */
import { z } from "zod";
import type { SurfaceRef } from "../../core/jobs/types.ts";

export const SURFACE = "discord";

const refSchema = z.object({
  surface: z.literal(SURFACE),
  guildId: z.string().nullable().catch(null),
  /** The text channel /gems create ran in; the thread hangs off a message there. */
  channelId: z.string(),
  threadId: z.string().optional(),
  /** The thread's live status line (edited as the job moves, carries Stop). */
  statusMessageId: z.string().optional(),
  /** Iteration number → its message, to add the next prompt or a re-check later. */
  iterationMessages: z.record(z.string(), z.string()).catch({}).default({}),
  /**
   * Iterations whose message was posted as a live preview and does not carry its final image
   * yet; the edit that brings it takes the iteration off this list.
   */
  previewIterations: z.array(z.number().int()).catch([]).default([]),
  /** The job's latest final message (its result), edited when votes change after the end. */
  finalMessageId: z.string().optional(),
  /** Highest event seq whose post reached Discord; re-delivered events up to it are dropped. */
  renderedSeq: z.number().int().nonnegative().catch(0).default(0),
});

export type DiscordRef = z.infer<typeof refSchema>;

/** The stored ref, or null when the job belongs to another surface or the ref is unusable. */
export function readDiscordRef(ref: SurfaceRef): DiscordRef | null {
  const parsed = refSchema.safeParse(ref);
  return parsed.success ? parsed.data : null;
}

export function newDiscordRef(guildId: string | null, channelId: string): DiscordRef {
  return { surface: SURFACE, guildId, channelId, iterationMessages: {}, previewIterations: [], renderedSeq: 0 };
}

export function toSurfaceRef(ref: DiscordRef): SurfaceRef {
  const json: SurfaceRef = {
    surface: SURFACE,
    guildId: ref.guildId,
    channelId: ref.channelId,
    iterationMessages: { ...ref.iterationMessages },
    previewIterations: [...ref.previewIterations],
    renderedSeq: ref.renderedSeq,
  };
  if (ref.threadId !== undefined) json.threadId = ref.threadId;
  if (ref.statusMessageId !== undefined) json.statusMessageId = ref.statusMessageId;
  if (ref.finalMessageId !== undefined) json.finalMessageId = ref.finalMessageId;
  return json;
}
