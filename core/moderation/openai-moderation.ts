/**
 * OpenAI's moderation endpoint: `POST {base}/moderations` with `{model, input}`, where input is
 * a list of `{type:"text", text}` and `{type:"image_url", image_url:{url}}` parts (images only
 * with the omni models). The answer's `results[].flagged` decides; the flagged category names
 * (`categories` with value true) say why. Errors come as `{error:{message,type,code}}`.
 */
import { BackendError } from "../errors.ts";
import { redactSecrets } from "../secrets.ts";
import type { Moderator, ModerationVerdict } from "./moderator.ts";

export interface OpenAiModeratorConfig {
  /** e.g. https://api.openai.com/v1 (no trailing slash needed). */
  baseUrl: string;
  apiKey: string;
  /** Default omni-moderation-latest, the only family that reads images. */
  model?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export const DEFAULT_MODERATION_MODEL = "omni-moderation-latest";

interface ModerationResult {
  flagged?: unknown;
  categories?: unknown;
}

export function createOpenAiModerator(config: OpenAiModeratorConfig): Moderator {
  const url = `${config.baseUrl.replace(/\/+$/, "")}/moderations`;
  const model = config.model ?? DEFAULT_MODERATION_MODEL;
  const doFetch = config.fetch ?? globalThis.fetch;
  const fail = (message: string, status?: number, cause?: unknown) =>
    new BackendError(redactSecrets(`The moderation endpoint ${message}`, config.apiKey), "moderation", { status, cause });
  return {
    name: "openai",
    async check(input, signal): Promise<ModerationVerdict> {
      const parts: unknown[] = [{ type: "text", text: input.text }];
      for (const image of input.images ?? []) {
        const dataUrl = `data:${image.mimeType};base64,${Buffer.from(image.data).toString("base64")}`;
        parts.push({ type: "image_url", image_url: { url: dataUrl } });
      }
      const timeout = AbortSignal.timeout(config.timeoutMs ?? 15_000);
      let response: Response;
      try {
        response = await doFetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${config.apiKey}` },
          body: JSON.stringify({ model, input: parts }),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        throw fail(`could not be reached (${error instanceof Error ? error.message : String(error)}).`, undefined, error);
      }
      const text = await response.text().catch(() => "");
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (!response.ok) {
        const message = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
        throw fail(`answered HTTP ${response.status}${typeof message === "string" ? `: ${message.slice(0, 300)}` : ""}.`, response.status);
      }
      const results = (body as { results?: unknown } | undefined)?.results;
      if (!Array.isArray(results) || results.length === 0) throw fail("answered without a results list.", response.status);
      const categories = new Set<string>();
      let flagged = false;
      for (const result of results as ModerationResult[]) {
        if (typeof result?.flagged !== "boolean") throw fail("answered a result without a flagged field.", response.status);
        if (!result.flagged) continue;
        flagged = true;
        const named = result.categories && typeof result.categories === "object" ? Object.entries(result.categories) : [];
        for (const [name, value] of named) if (value === true) categories.add(name);
      }
      return flagged ? { flagged: true, categories: categories.size > 0 ? [...categories].sort() : ["flagged"] } : { flagged: false };
    },
  };
}
