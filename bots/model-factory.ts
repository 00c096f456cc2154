/**
 * The one place that turns model config into adapters: which adapter per kind, and a pool in
 * front when a URL variable lists several servers (or a capacity). The agent only ever sees
 * the Mllm and ImageGenerator ports; `gems backends` reads `listServers` to check each one.
 */
import type { GeneratorConfig, MllmConfig, ServerSpec } from "../config/schema.ts";
import { createA1111Generator } from "../core/models/a1111-generator.ts";
import { createComfyUiGenerator } from "../core/models/comfyui-generator.ts";
import { hostOf } from "../core/models/backend-call.ts";
import { discoverModelName } from "../core/models/discover-model.ts";
import { createGemsHttpGenerator } from "../core/models/gems-http-generator.ts";
import { createOpenAiCompatibleMllm } from "../core/models/openai-compatible-mllm.ts";
import { createOpenAiImageGenerator } from "../core/models/openai-image-generator.ts";
import { basename } from "node:path";
import type { ModelNames } from "../core/memory/trajectory.ts";
import type { ImageGenerator, Mllm } from "../core/models/ports.ts";
import { probeServer, type ServerKind } from "../core/models/server-probe.ts";
import { createGeneratorPool, createMllmPool, type ServerStats } from "../core/models/server-pool.ts";
import { createSimGenerator } from "../servers/sim/sim-generator.ts";
import { createSimMllm } from "../servers/sim/sim-mllm.ts";
import { OPENAI_BASE_URL } from "../core/models/openai-client.ts";

/** A pool's per-server numbers for metrics; absent for a single, unpooled server. */
export type WithStats = { stats?: () => ServerStats[] };

/** The model an openai-compatible MLLM asks for (configured or discovered), for modelNamesOf. */
export type WithModel = { model?: string };

export async function createMllm(config: MllmConfig): Promise<Mllm & WithStats & WithModel> {
  if (config.kind === "sim") return createSimMllm({ latencyMs: config.latencyMs });
  const model = config.model ?? (await discoverModelName(config.baseUrl as string, config.apiKey));
  const one = (baseUrl: string | undefined): Mllm =>
    createOpenAiCompatibleMllm({
      baseUrl,
      model,
      apiKey: config.apiKey,
      timeoutMs: config.timeoutMs,
      maxRetries: config.maxRetries,
      thinkingTokens: config.thinkingTokens,
      tokenLimit: config.tokenLimit,
    });
  if (!config.isPooled) return Object.assign(one(config.baseUrl), { model });
  const pool = createMllmPool(
    config.servers.map((server) => ({
      name: `${hostOf(server.url)}`,
      target: one(server.url),
      capacity: server.capacity,
      probe: (signal) => probeServer("openai-compatible", server.url, { apiKey: config.apiKey, model, signal }),
    })),
  );
  return Object.assign(pool, { model });
}

/**
 * The models as image provenance and trajectories name them: model names where there are any,
 * the generator's kind (and ComfyUI workflow file) otherwise. Never a URL or a host: these
 * travel inside every posted image.
 */
export function modelNamesOf(config: { mllm: MllmConfig; generator: GeneratorConfig }, mllm: Mllm & WithModel): ModelNames {
  const mllmName = config.mllm.kind === "sim" ? "sim" : `openai-compatible:${config.mllm.model ?? mllm.model ?? "unknown model"}`;
  const g = config.generator;
  const generatorName =
    g.kind === "openai" ? `openai:${g.model}` : g.kind === "comfyui" && g.workflow ? `comfyui:${basename(g.workflow.path)}` : g.kind;
  return { mllm: mllmName, generator: generatorName };
}

function generatorFor(config: Exclude<GeneratorConfig, { kind: "sim" }>, url: string | undefined): ImageGenerator {
  const common = { timeoutMs: config.timeoutMs, maxRetries: config.maxRetries };
  switch (config.kind) {
    case "gems-http":
      return createGemsHttpGenerator({ url: url ?? config.url, ...common });
    case "openai":
      return createOpenAiImageGenerator({
        baseUrl: url,
        model: config.model,
        apiKey: config.apiKey,
        ...common,
        ...(config.size ? { size: `${config.size.width}x${config.size.height}` } : {}),
      });
    case "a1111":
      return createA1111Generator({ url: url as string, negativePrompt: config.negativePrompt, steps: config.steps, size: config.size, ...common });
    case "comfyui":
      return createComfyUiGenerator({
        url: url as string,
        workflow: (config.workflow as NonNullable<typeof config.workflow>).nodes,
        ...(config.imageWorkflow ? { imageWorkflow: config.imageWorkflow.nodes } : {}),
        negativePrompt: config.negativePrompt,
        steps: config.steps,
        size: config.size,
        ...common,
      });
  }
}

/**
 * How long the sim generator takes per image under `gems serve` when GEMS_SIM_LATENCY_MS is not
 * set: long enough that the studio and chat show its partial drawings as live previews.
 */
export const SERVE_SIM_DRAW_MS = 4_000;

export function createGenerator(config: GeneratorConfig, options: { isServing?: boolean } = {}): ImageGenerator & WithStats {
  if (config.kind === "sim") return createSimGenerator({ latencyMs: !config.isLatencySet && options.isServing ? SERVE_SIM_DRAW_MS : config.latencyMs });
  if (!config.isPooled) return generatorFor(config, config.servers[0]?.url);
  const apiKey = config.kind === "openai" ? config.apiKey : undefined;
  return createGeneratorPool(
    config.servers.map((server) => ({
      name: `${config.kind}:${hostOf(server.url)}`,
      target: generatorFor(config, server.url),
      capacity: server.capacity,
      probe: (signal) => probeServer(config.kind, server.url, { apiKey, signal }),
    })),
  );
}

/** One configured server, as `gems backends` checks it. */
export interface ServerToCheck {
  role: "MLLM" | "generator";
  kind: ServerKind;
  url: string;
  capacity: number | null;
  /** What the config says it runs: a model name or a workflow file. */
  configured: string | null;
  /** The model the MLLM's calls ask for, checked against the server's list. */
  model?: string;
  apiKey: string | undefined;
}

export function listServers(mllm: MllmConfig, generator: GeneratorConfig): ServerToCheck[] {
  const servers: ServerToCheck[] = [];
  const each = (specs: ServerSpec[], fallback: string | undefined): Array<{ url: string; capacity: number | null }> =>
    specs.length > 0 ? specs.map((s) => ({ url: s.url, capacity: s.capacity })) : fallback ? [{ url: fallback, capacity: null }] : [];
  if (mllm.kind === "openai-compatible") {
    for (const server of each(mllm.servers, OPENAI_BASE_URL)) {
      servers.push({
        role: "MLLM",
        kind: "openai-compatible",
        ...server,
        capacity: mllm.isPooled ? server.capacity : null,
        configured: mllm.model ? `model ${mllm.model}` : null,
        ...(mllm.model ? { model: mllm.model } : {}),
        apiKey: mllm.apiKey,
      });
    }
  }
  if (generator.kind !== "sim") {
    const configured =
      generator.kind === "comfyui" ? `workflow ${generator.workflow?.path ?? "?"}` : generator.kind === "openai" ? generator.model : null;
    const apiKey = generator.kind === "openai" ? generator.apiKey : undefined;
    for (const server of each(generator.servers, generator.kind === "openai" ? OPENAI_BASE_URL : undefined)) {
      servers.push({ role: "generator", kind: generator.kind, ...server, capacity: generator.isPooled ? server.capacity : null, configured, apiKey });
    }
  }
  return servers;
}
