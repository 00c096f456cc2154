/**
 * The model settings: which MLLM and image generator GEMS talks to, their servers (a pool when
 * several), keys, timeouts and, for ComfyUI, the workflows checked at start-up.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseComfyWorkflow, type ComfyWorkflow } from "../core/models/comfyui-workflow.ts";
import { choice, integer, optionalText, serverList, size, type Env, type EnvOf, type ServerSpec } from "./env-fields.ts";

export const MODEL_EXAMPLES: Record<string, string> = {
  GEMS_MLLM: "openai-compatible",
  GEMS_MLLM_BASE_URL: "http://127.0.0.1:30000/v1",
  GEMS_MLLM_MODEL: "Qwen/Qwen3-VL-8B-Instruct",
  GEMS_MLLM_TIMEOUT_MS: "120000",
  GEMS_MLLM_MAX_RETRIES: "3",
  GEMS_MLLM_THINKING_TOKENS: "4096",
  GEMS_MLLM_TOKEN_LIMIT: "per-role",
  GEMS_GENERATOR: "gems-http",
  GEMS_GENERATOR_URL: "http://gpu-1:8000/generate,http://gpu-2:8000/generate#2",
  GEMS_GENERATOR_TIMEOUT_MS: "300000",
  GEMS_GENERATOR_MAX_RETRIES: "2",
  GEMS_GENERATOR_SIZE: "1024x1024",
  GEMS_COMFYUI_WORKFLOW: "./workflows/sdxl-api.json",
  GEMS_COMFYUI_IMAGE_WORKFLOW: "./workflows/sdxl-img2img-api.json",
  GEMS_GENERATOR_STEPS: "25",
  GEMS_GENERATOR_SERVER_CAPACITY: "1",
  GEMS_MLLM_SERVER_CAPACITY: "16",
};

export const MODEL_FIELDS = {
  GEMS_MLLM: choice(["openai-compatible", "sim"] as const),
  GEMS_MLLM_BASE_URL: serverList,
  GEMS_MLLM_SERVER_CAPACITY: integer(1, 256, 16),
  GEMS_MLLM_MODEL: optionalText,
  GEMS_MLLM_API_KEY: optionalText,
  GEMS_MLLM_TIMEOUT_MS: integer(1000, 3_600_000, 120_000),
  GEMS_MLLM_MAX_RETRIES: integer(0, 10, 3),
  // Reasoning models: room to think on top of each role's answer, or no limit sent at all.
  GEMS_MLLM_THINKING_TOKENS: integer(0, 1_000_000, 4096),
  GEMS_MLLM_TOKEN_LIMIT: choice(["per-role", "none"] as const),
  OPENAI_API_KEY: optionalText,
  GEMS_GENERATOR: choice(["gems-http", "openai", "comfyui", "a1111", "sim"] as const),
  GEMS_GENERATOR_URL: serverList,
  GEMS_GENERATOR_SERVER_CAPACITY: integer(1, 256, 1),
  GEMS_COMFYUI_WORKFLOW: optionalText,
  GEMS_COMFYUI_IMAGE_WORKFLOW: optionalText,
  GEMS_GENERATOR_NEGATIVE_PROMPT: optionalText,
  GEMS_GENERATOR_STEPS: integer(1, 500, 20),
  GEMS_GENERATOR_MODEL: optionalText,
  GEMS_GENERATOR_API_KEY: optionalText,
  GEMS_GENERATOR_TIMEOUT_MS: integer(1000, 3_600_000, 300_000),
  GEMS_GENERATOR_MAX_RETRIES: integer(0, 10, 2),
  GEMS_GENERATOR_SIZE: size,
};

/** The model variables, and the simulated models' latency (a general setting). */
type ModelEnv = EnvOf<typeof MODEL_FIELDS> & { GEMS_SIM_LATENCY_MS: number };

export type MllmConfig =
  | { kind: "sim"; latencyMs: number }
  | {
      kind: "openai-compatible";
      /** The first server's base URL; `servers` has them all. */
      baseUrl: string | undefined;
      servers: ServerSpec[];
      /** Whether calls go through a pool (several servers, or a capacity given). */
      isPooled: boolean;
      /** Undefined means "ask the server which model it serves". */
      model: string | undefined;
      apiKey: string | undefined;
      timeoutMs: number;
      maxRetries: number;
      thinkingTokens: number;
      tokenLimit: "per-role" | "none";
    };

export type GeneratorConfig =
  /** `isLatencySet`: GEMS_SIM_LATENCY_MS was given; otherwise `gems serve` draws slowly enough to show previews. */
  | { kind: "sim"; latencyMs: number; isLatencySet: boolean }
  | { kind: "gems-http"; url: string; servers: ServerSpec[]; isPooled: boolean; timeoutMs: number; maxRetries: number }
  | {
      kind: "comfyui" | "a1111";
      servers: ServerSpec[];
      isPooled: boolean;
      /** comfyui only: the API-format workflow, checked at start-up, and where it was read from. */
      workflow: { path: string; nodes: ComfyWorkflow } | null;
      /** comfyui only: the workflow with a LoadImage node marked {{image}}, for edits and references; null for text only. */
      imageWorkflow: { path: string; nodes: ComfyWorkflow } | null;
      negativePrompt: string;
      steps: number;
      size: { width: number; height: number };
      timeoutMs: number;
      maxRetries: number;
    }
  | {
      kind: "openai";
      baseUrl: string | undefined;
      servers: ServerSpec[];
      isPooled: boolean;
      model: string;
      apiKey: string | undefined;
      timeoutMs: number;
      maxRetries: number;
      size: { width: number; height: number } | undefined;
    };

/** The MLLM and the generator; each problem (a missing URL or key, a bad workflow) is one line in `problems`. */
export function modelsOf(e: ModelEnv, merged: Env, cwd: string, problems: string[]): { mllm: MllmConfig; generator: GeneratorConfig } {
  const mllmKind = e.GEMS_MLLM ?? (e.GEMS_MLLM_BASE_URL || e.OPENAI_API_KEY ? "openai-compatible" : "sim");
  const mllm: MllmConfig =
    mllmKind === "sim"
      ? { kind: "sim", latencyMs: e.GEMS_SIM_LATENCY_MS }
      : {
          kind: "openai-compatible",
          baseUrl: e.GEMS_MLLM_BASE_URL?.[0]?.url,
          ...poolOf(e.GEMS_MLLM_BASE_URL ?? [], e.GEMS_MLLM_SERVER_CAPACITY, merged["GEMS_MLLM_SERVER_CAPACITY"]),
          // OpenAI itself needs a model name; a self-hosted server can be asked for its own.
          model: e.GEMS_MLLM_MODEL ?? (e.GEMS_MLLM_BASE_URL ? undefined : "gpt-4.1-mini"),
          apiKey: e.GEMS_MLLM_API_KEY ?? e.OPENAI_API_KEY,
          timeoutMs: e.GEMS_MLLM_TIMEOUT_MS,
          maxRetries: e.GEMS_MLLM_MAX_RETRIES,
          thinkingTokens: e.GEMS_MLLM_THINKING_TOKENS,
          tokenLimit: e.GEMS_MLLM_TOKEN_LIMIT ?? "per-role",
        };
  if (mllm.kind === "openai-compatible" && !mllm.baseUrl && !mllm.apiKey) {
    problems.push(
      `GEMS_MLLM: openai-compatible needs GEMS_MLLM_BASE_URL or an API key (got neither). Example: GEMS_MLLM_BASE_URL=${MODEL_EXAMPLES["GEMS_MLLM_BASE_URL"]}`,
    );
  }

  const generatorKind =
    e.GEMS_GENERATOR ?? (e.GEMS_GENERATOR_URL ? "gems-http" : e.OPENAI_API_KEY ? "openai" : "sim");
  const generatorServers = e.GEMS_GENERATOR_URL ?? [];
  const generatorPool = poolOf(generatorServers, e.GEMS_GENERATOR_SERVER_CAPACITY, merged["GEMS_GENERATOR_SERVER_CAPACITY"]);
  let generator: GeneratorConfig;
  if (generatorKind === "gems-http" || generatorKind === "comfyui" || generatorKind === "a1111") {
    if (generatorServers.length === 0) {
      const example = generatorKind === "gems-http" ? MODEL_EXAMPLES["GEMS_GENERATOR_URL"] : generatorKind === "comfyui" ? "http://127.0.0.1:8188" : "http://127.0.0.1:7860";
      problems.push(`GEMS_GENERATOR_URL: required when GEMS_GENERATOR=${generatorKind} (got nothing). Example: GEMS_GENERATOR_URL=${example}`);
    }
  }
  if (generatorKind === "gems-http") {
    generator = { kind: "gems-http", url: generatorServers[0]?.url ?? "", ...generatorPool, timeoutMs: e.GEMS_GENERATOR_TIMEOUT_MS, maxRetries: e.GEMS_GENERATOR_MAX_RETRIES };
  } else if (generatorKind === "comfyui" || generatorKind === "a1111") {
    let workflow: { path: string; nodes: ComfyWorkflow } | null = null;
    let imageWorkflow: { path: string; nodes: ComfyWorkflow } | null = null;
    if (generatorKind === "comfyui") {
      const loaded = loadWorkflow(e.GEMS_COMFYUI_WORKFLOW, cwd);
      if (Array.isArray(loaded)) problems.push(...loaded);
      else workflow = loaded;
      if (e.GEMS_COMFYUI_IMAGE_WORKFLOW) {
        const image = loadWorkflow(e.GEMS_COMFYUI_IMAGE_WORKFLOW, cwd, "GEMS_COMFYUI_IMAGE_WORKFLOW");
        if (Array.isArray(image)) problems.push(...image);
        else imageWorkflow = image;
      }
    }
    generator = {
      kind: generatorKind,
      ...generatorPool,
      workflow,
      imageWorkflow,
      negativePrompt: e.GEMS_GENERATOR_NEGATIVE_PROMPT ?? "",
      steps: e.GEMS_GENERATOR_STEPS,
      size: e.GEMS_GENERATOR_SIZE ?? { width: 1024, height: 1024 },
      timeoutMs: e.GEMS_GENERATOR_TIMEOUT_MS,
      maxRetries: e.GEMS_GENERATOR_MAX_RETRIES,
    };
  } else if (generatorKind === "openai") {
    const apiKey = e.GEMS_GENERATOR_API_KEY ?? e.OPENAI_API_KEY;
    if (!apiKey && !e.GEMS_GENERATOR_URL) {
      problems.push("GEMS_GENERATOR: openai needs GEMS_GENERATOR_API_KEY or OPENAI_API_KEY (got neither). Example: GEMS_GENERATOR_API_KEY=sk-...");
    }
    generator = {
      kind: "openai",
      baseUrl: generatorServers[0]?.url,
      ...generatorPool,
      model: e.GEMS_GENERATOR_MODEL ?? "gpt-image-1",
      apiKey,
      timeoutMs: e.GEMS_GENERATOR_TIMEOUT_MS,
      maxRetries: e.GEMS_GENERATOR_MAX_RETRIES,
      size: e.GEMS_GENERATOR_SIZE,
    };
  } else {
    generator = { kind: "sim", latencyMs: e.GEMS_SIM_LATENCY_MS, isLatencySet: (merged["GEMS_SIM_LATENCY_MS"] ?? "").trim() !== "" };
  }
  return { mllm, generator };
}

/**
 * Fills in each server's capacity (its `#N`, else the variable's value) and says whether calls
 * go through a pool: several servers, or a capacity asked for, since one plain URL has always
 * been called directly with no cap of its own.
 */
function poolOf(specs: ServerSpec[], capacity: number, capacityGiven: string | undefined): { servers: ServerSpec[]; isPooled: boolean } {
  const isPooled = specs.length > 1 || specs.some((spec) => spec.capacity > 0) || Boolean(capacityGiven?.trim());
  return { servers: specs.map((spec) => ({ url: spec.url, capacity: spec.capacity || capacity })), isPooled };
}

/** Reads and checks the ComfyUI workflow; a list of one-line problems when it will not do. */
function loadWorkflow(
  path: string | undefined,
  cwd: string,
  variable: "GEMS_COMFYUI_WORKFLOW" | "GEMS_COMFYUI_IMAGE_WORKFLOW" = "GEMS_COMFYUI_WORKFLOW",
): { path: string; nodes: ComfyWorkflow } | string[] {
  const example = `Example: ${variable}=${MODEL_EXAMPLES[variable]}`;
  if (!path) return [`${variable}: required when GEMS_GENERATOR=comfyui (got nothing): your workflow saved with Workflow → Export (API). ${example}`];
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    return [`${variable}: cannot read ${full} (${code}). ${example}`];
  }
  const parsed = parseComfyWorkflow(text);
  if (!parsed.ok) return parsed.problems.map((problem) => `${variable}: ${full} ${problem}`);
  // The text workflow runs without an image; the image workflow is useless without one.
  const hasImage = parsed.value.placeholders.has("image");
  if (variable === "GEMS_COMFYUI_WORKFLOW" && hasImage) {
    return [`${variable}: ${full} uses {{image}}, but this workflow runs without an image; put the LoadImage workflow in GEMS_COMFYUI_IMAGE_WORKFLOW`];
  }
  if (variable === "GEMS_COMFYUI_IMAGE_WORKFLOW" && !hasImage) {
    return [`${variable}: ${full} has no {{image}} placeholder; write "{{image}}" as the image input of its LoadImage node. ${example}`];
  }
  return { path: full, nodes: parsed.value.workflow };
}

/** Whether the agent runs on simulated models, for the notice printed at start-up. */
export function simulatedParts(config: { mllm: MllmConfig; generator: GeneratorConfig }): string[] {
  const parts: string[] = [];
  if (config.mllm.kind === "sim") parts.push("MLLM");
  if (config.generator.kind === "sim") parts.push("image generator");
  return parts;
}
