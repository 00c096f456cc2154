/**
 * What runJob needs to run one job outside a job service, as the benchmarks and the sim's own
 * tests do: images kept in memory, the trajectory committed nowhere, nothing logged.
 */
import type { AgentDeps } from "../../core/agent/run-job.ts";
import { silentLogger } from "../../core/logger.ts";
import { createInMemoryImageStore } from "../../core/memory/image-store.ts";

export function standaloneAgentDeps(models: Pick<AgentDeps, "mllm" | "generator" | "skills">): AgentDeps {
  return { ...models, images: createInMemoryImageStore(), commit: async () => {}, verifyConcurrency: 8, logger: silentLogger };
}
