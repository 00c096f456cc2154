/**
 * Counts what each step's MLLM calls cost (calls, images sent, tokens as the server reported
 * them, cached tokens among them) so the trajectory can say, per iteration and role, what the
 * loop spent. A step's counts are written with the step's commit; a step that fails is run again
 * and its lost calls are not counted.
 */
import type { Mllm } from "../models/ports.ts";
import type { Trajectory, UsageRecord } from "../memory/trajectory.ts";
import { roleOf } from "./prompts.ts";

export interface MeteredMllm {
  mllm: Mllm;
  /** The counts since the last call to take, by role, and starts counting afresh. */
  take(): Array<Omit<UsageRecord, "n">>;
}

export function meterMllm(inner: Mllm): MeteredMllm {
  let counts = new Map<string, Omit<UsageRecord, "n">>();
  const mllm: Mllm = {
    name: inner.name,
    async chat(request) {
      const reply = await inner.chat(request);
      const role = roleOf(request.messages) ?? "other";
      const entry = counts.get(role) ?? emptyUsage(role);
      entry.calls++;
      entry.images += request.messages.reduce(
        (sum, m) => sum + (typeof m.content === "string" ? 0 : m.content.filter((p) => p.type === "image").length),
        0,
      );
      if (reply.usage) {
        entry.reportedCalls++;
        entry.inputTokens += reply.usage.inputTokens;
        entry.cachedInputTokens += reply.usage.cachedInputTokens;
        entry.outputTokens += reply.usage.outputTokens;
      }
      counts.set(role, entry);
      return reply;
    },
  };
  return {
    mllm,
    take() {
      const taken = [...counts.values()];
      counts = new Map();
      return taken;
    },
  };
}

const emptyUsage = (role: string): Omit<UsageRecord, "n"> => ({
  role,
  calls: 0,
  images: 0,
  reportedCalls: 0,
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
});

/** Adds counts to the trajectory's record for iteration n, one entry per (n, role). */
export function addUsage(t: Trajectory, n: number, entries: ReadonlyArray<Omit<UsageRecord, "n">>): void {
  for (const entry of entries) {
    const existing = t.usage.find((u) => u.n === n && u.role === entry.role);
    if (!existing) {
      t.usage.push({ n, ...entry });
      continue;
    }
    existing.calls += entry.calls;
    existing.images += entry.images;
    existing.reportedCalls += entry.reportedCalls;
    existing.inputTokens += entry.inputTokens;
    existing.cachedInputTokens += entry.cachedInputTokens;
    existing.outputTokens += entry.outputTokens;
  }
}

/** The job's usage summed over iterations and roles. */
export function totalUsage(t: Pick<Trajectory, "usage">): Omit<UsageRecord, "n" | "role"> {
  const total = { calls: 0, images: 0, reportedCalls: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  for (const u of t.usage) {
    total.calls += u.calls;
    total.images += u.images;
    total.reportedCalls += u.reportedCalls;
    total.inputTokens += u.inputTokens;
    total.cachedInputTokens += u.cachedInputTokens;
    total.outputTokens += u.outputTokens;
  }
  return total;
}
